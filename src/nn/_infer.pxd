"""The interface of nn._infer (src/nn/_infer.pyx): inference over any number of rows, in blocks, on a
team of threads."""
from nn._passes cimport Net

cdef int run_inference(Net* net, void* theta, void* X, void* out, Py_ssize_t n, Py_ssize_t block,
                       Py_ssize_t work_size, bint lists, bint is_double, int threads) noexcept nogil
