"""Tools that maintain the book around the library (not part of the public API).

* :mod:`~dlbook._book.setup_cells` writes every notebook's Colab setup cell;
* :mod:`~dlbook._book.cjk_font` builds the subset CJK web font;
* :mod:`~dlbook._book.api_pages` writes the API reference, one page a package.

Each has a ``python -m`` entry point, and a test fails when what it generates
is out of date.
"""
