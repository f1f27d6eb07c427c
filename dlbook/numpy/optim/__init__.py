"""``dlbook.numpy.optim``: optimizers and learning-rate schedulers (torch's rules)."""
