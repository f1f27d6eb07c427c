"""dlbook: the library behind the dlbook course.

Two halves share one vocabulary:

* :mod:`dlbook.numpy` -- a small framework written from scratch in NumPy, every
  backward pass by hand, names and layouts those of ``torch.nn``;
* :mod:`dlbook.torch` -- teaching modules written from tensor operations, a model
  zoo and a training loop that runs on a GPU.

Around them sit :mod:`dlbook.data` (data sets that work offline),
:mod:`dlbook.plot` (one figure style) and :mod:`dlbook.utils` (seeding,
counting, timing).
"""

__version__ = "0.1.0"
