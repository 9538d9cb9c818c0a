"""An independent checker of :mod:`gru_tutorial.verify`'s certificates, for the tests.

It shares no enclosure code with the verifier: every quantity is an interval of
``mpmath.iv``, which rounds outward at its working precision, and the GRU step is
written out again from its four equations. What it checks is the theorem's three
conditions, for a GRU adder's float64 weights (exact copies of the model's):

1. the start box holds ``h_0 = 0``;
2. for every box and input pair, the image of the box under the exact step, widened
   by the certificate's state slack, lies inside the box of the node the graph moves
   to;
3. on every box but the start, the readout ``h V + c``, widened by the logit slack, is
   on the side of the model's threshold that the node's sum bit asks for.

Images are enclosed with the naive interval extension of the step; where that is too
wide to fit, the box is halved (again and again, up to a depth) and the halves are
checked on their own, which is sound for any split and tighter the more splits. The
state update ``(1 - z) h + z t`` is increasing in ``h`` and ``t`` and linear in ``z``
for ``z`` in [0, 1], so its range over a part is taken at the end points rather than
with ``h`` counted twice.
"""

from __future__ import annotations

from mpmath import iv, mpf

iv.dps = 30

INPUTS = ((0, 0), (0, 1), (1, 0), (1, 1))  # code = 2 a + b


def _col(M, j):
    return [float(M[i, j]) for i in range(M.shape[0])]


def _dot(row, vec):
    total = iv.mpf(0)
    for a, b in zip(row, vec, strict=True):
        total += iv.mpf(a) * b
    return total


def _sigmoid(x):
    return 1 / (1 + iv.exp(-x))


def _tanh(x):
    e = iv.exp(2 * x)
    return 1 - 2 / (e + 1)


def _pre(w, gate, box, x):
    """The pre-activations ``x W + h U + b`` of one gate (``''`` for the plain RNN)."""
    name = f"_{gate}" if gate else ""
    W, U, bias = getattr(w, f"W{name}"), getattr(w, f"U{name}"), getattr(w, f"b{name}")
    a, b = x
    return [iv.mpf(float(W[0, j])) * a + iv.mpf(float(W[1, j])) * b + iv.mpf(float(bias[j]))
            + _dot(_col(U, j), box) for j in range(len(box))]


def step_enclosure(w, box, x):
    """Intervals enclosing the exact step of every state in ``box`` (a list of intervals).

    For the GRU, the GRU without its reset gate (``r = 1``), the plain RNN and the
    LSTM (whose box is ``h`` then ``c``).
    """
    if w.cell == "rnn":
        return [_tanh(v) for v in _pre(w, "", box, x)]
    if w.cell == "lstm":
        u = w.units
        h, c = box[:u], box[u:]
        i, f, o = ([_sigmoid(v) for v in _pre(w, g, h, x)] for g in "ifo")
        g = [_tanh(v) for v in _pre(w, "c", h, x)]
        c_new = [fj * cj + ij * gj for fj, cj, ij, gj in zip(f, c, i, g, strict=True)]
        return [oj * _tanh(cj) for oj, cj in zip(o, c_new, strict=True)] + c_new
    z = [_sigmoid(v) for v in _pre(w, "z", box, x)]
    if w.cell == "gru":
        r = [_sigmoid(v) for v in _pre(w, "r", box, x)]
        rh = [ri * hi for ri, hi in zip(r, box, strict=True)]
    else:
        rh = box
    t = [_tanh(v) for v in _pre(w, "h", rh, x)]
    out = []
    for zj, hj, tj in zip(z, box, t, strict=True):
        lo = min((1 - zj.a) * hj.a + zj.a * tj.a, (1 - zj.b) * hj.a + zj.b * tj.a)
        hi = max((1 - zj.a) * hj.b + zj.a * tj.b, (1 - zj.b) * hj.b + zj.b * tj.b)
        out.append(iv.mpf([lo.a, hi.b]))
    return out


def _fits(w, part, x, t_lo, t_hi, slack, depth):
    """Whether the image of ``part`` (intervals), widened by ``slack``, lies in the target.

    If the naive image does not fit, the part is halved along its widest unit and both
    halves are tried, down to ``depth`` more halvings (the union of the halves' images
    encloses the part's image, so the answer stays sound).
    """
    img = step_enclosure(w, part, x)
    if all(v.a - slack >= p and v.b + slack <= q
           for v, p, q in zip(img, t_lo, t_hi, strict=True)):
        return True
    if depth == 0:
        return False
    j = max(range(len(part)), key=lambda k: part[k].delta)
    mid = part[j].mid.a
    halves = ([*part[:j], iv.mpf([part[j].a, mid]), *part[j + 1:]],
              [*part[:j], iv.mpf([mid, part[j].b]), *part[j + 1:]])
    return all(_fits(w, h, x, t_lo, t_hi, slack, depth - 1) for h in halves)


def check(w, cert, depth=24):
    """``None`` if the certificate passes the three conditions here, else the first failure.

    A box whose image does not fit is halved, up to ``depth`` times, before the checker
    gives up on it.
    """
    graph, lower, upper = cert.graph, cert.lower, cert.upper
    if not all(lo <= 0 <= hi for lo, hi in zip(lower[0], upper[0], strict=True)):
        return "start box does not hold h_0 = 0"
    slack = mpf(cert.slack)
    for node in range(lower.shape[0]):
        box = [iv.mpf([float(a), float(b)]) for a, b in zip(lower[node], upper[node],
                                                             strict=True)]
        for code in range(4):
            target = graph.target[node, code]
            t_lo = [mpf(float(v)) for v in lower[target]]
            t_hi = [mpf(float(v)) for v in upper[target]]
            if not _fits(w, box, INPUTS[code], t_lo, t_hi, slack, depth):
                return f"closure: node {node}, input {code}"
    threshold, logit_slack = mpf(w.threshold), mpf(cert.logit_slack)
    for node in range(1, lower.shape[0]):
        box = [iv.mpf([float(a), float(b)]) for a, b in zip(lower[node], upper[node],
                                                             strict=True)]
        out = _dot([float(v) for v in w.V], box[:w.units]) + iv.mpf(float(w.c))
        if graph.sum_bit[node] == 1 and not out.a - logit_slack > threshold:
            return f"readout: node {node} should be above the threshold"
        if graph.sum_bit[node] == 0 and not out.b + logit_slack < threshold:
            return f"readout: node {node} should be below the threshold"
    return None
