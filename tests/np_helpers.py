"""The tests' name for :mod:`dlbook.numpy.testing` (kept so that test files can
import ``np_helpers`` as before)."""

from dlbook.numpy.testing import check_against_torch, copy_torch_to_np, to_torch

__all__ = ["check_against_torch", "to_torch", "copy_torch_to_np"]
