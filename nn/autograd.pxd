# The C types of nn/autograd.py when it is compiled (setup.py): Cython reads this "augmenting" .pxd beside
# the .py, which stays plain, readable Python (and runs as such where it is not compiled). Value becomes
# an extension type whose numbers are C doubles; backward() and topological_order() get typed locals.
# Every attribute keeps its name and stays readable and writable from Python.
import cython


cdef class Value:
    cdef public double data, grad, _g
    cdef public object label, _op, _constant, children, local_grads, _topo

    @cython.locals(order=list, seen=set, stack=list, node=Value, child=Value, children_done=cython.bint)
    cpdef topological_order(self)

    @cython.locals(order=list, node=Value, child=Value, g=cython.double, local=cython.double)
    cpdef backward(self)
