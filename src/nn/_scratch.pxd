"""The interface of nn._scratch (src/nn/_scratch.pyx): a training call's scratch, allocated and freed."""
from nn._train cimport Scratch

cdef int scratch_init(Scratch* s, Py_ssize_t work_size, Py_ssize_t n_params, Py_ssize_t n_in,
                      Py_ssize_t n_hidden, Py_ssize_t batch_size, int threads, bint sparse,
                      bint is_double) noexcept nogil
cdef void scratch_free(Scratch* s) noexcept nogil
