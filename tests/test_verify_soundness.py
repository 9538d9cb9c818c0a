"""The verifier's theorem against the arithmetic that runs (issue 21's audit, part 4).

- An independent checker (``independent_check``, mpmath intervals, no code shared with
  ``verify``) confirms the certificates ``verify`` accepts and rejects tampered ones.
- Enclosures hold the exact image of points, computed with 40 significant digits.
- A readout in the subnormal range, where TensorFlow's kernels flush to zero, is not
  certified; the same readout scaled into the normal range still is.
- Every engine's float32 ``sigmoid`` and ``tanh`` are within ``FUNCTION_ERROR``.
- The command's message names the arithmetic and the assumption.
"""

from __future__ import annotations

import independent_check as ic
import numba
import numpy as np
import pytest
import tensorflow as tf
from mpmath import mp, mpf

from gru_tutorial import adder, compiled, engine
from gru_tutorial import verify as V
from gru_tutorial.cli import main
from gru_tutorial.inside import hand_built_rnn_weights, hand_built_weights, to_model


@pytest.fixture(scope="module")
def bundled():
    return adder.load_pretrained()


@pytest.fixture(scope="module")
def bundled_cert(bundled):
    result = V.verify(bundled)
    assert result.certified
    return result.certificate


# -- an independent checker ---------------------------------------------------------------

def test_an_independent_checker_confirms_the_bundled_certificate(bundled, bundled_cert):
    assert ic.check(bundled, bundled_cert) is None


def test_an_independent_checker_confirms_the_hand_built_certificate():
    w = hand_built_weights()
    result = V.verify(w)
    assert result.certified and result.boxes == 9
    assert ic.check(w, result.certificate) is None


def _tampered(cert, how):
    lower, upper = cert.lower.copy(), cert.upper.copy()
    slack = cert.slack
    if how == "a target box shrunk":
        t = cert.graph.target[5, 0]
        upper[t] = lower[t] + 0.25 * (upper[t] - lower[t])
    elif how == "more slack than room":
        slack = 0.05
    elif how == "start box moved off 0":
        lower[0] = upper[0] = 0.01
    return V.Certificate(cert.history, lower, upper, slack, cert.logit_slack)


@pytest.mark.parametrize("how", ["a target box shrunk", "more slack than room",
                                 "start box moved off 0"])
def test_both_checkers_reject_a_tampered_certificate(bundled, bundled_cert, how):
    cert = _tampered(bundled_cert, how)
    assert not V.check_certificate(bundled, cert).ok
    assert ic.check(bundled, cert) is not None


@pytest.mark.parametrize("shift", [-1.0, 1.0])
def test_both_checkers_reject_a_readout_on_the_wrong_side(bundled, bundled_cert, shift):
    # the same boxes, with the readout's bias moved past the certificate's margin
    w = bundled.replace(c=bundled.c + shift * 2.5)
    assert not V.check_certificate(w, bundled_cert).ok
    assert ic.check(w, bundled_cert) is not None


def test_both_checkers_want_the_readout_beyond_its_slack(bundled, bundled_cert):
    # move the readout's bias so that the closest box lies on the right side of the
    # threshold, but closer than the logit slack: a rounding could put it on the wrong side
    _, _, margins = V._readout(bundled, bundled_cert.graph, bundled_cert.lower,
                               bundled_cert.upper)
    node = int(np.argmin(margins)) + 1
    towards = -1.0 if bundled_cert.graph.sum_bit[node] == 1 else 1.0
    shift = float(margins.min()) - 0.5 * bundled_cert.logit_slack
    w = bundled.replace(c=bundled.c + towards * shift)
    _, _, moved = V._readout(w, bundled_cert.graph, bundled_cert.lower, bundled_cert.upper)
    assert 0 < moved.min() < bundled_cert.logit_slack
    assert not V.check_certificate(w, bundled_cert).ok
    assert ic.check(w, bundled_cert) is not None


def test_a_wrong_readout_on_the_last_box_is_caught():
    # the hand-built GRU with its readout lowered by 0.1 reads a total of 3 (carry 1 and
    # (a, b) = (1, 1), the last node of the graph) as 0: it computes 3 + 3 = 4
    w = hand_built_weights().replace(c=-0.1)
    assert to_model(w).add(3, 3) == 4
    boxes = V.verify(hand_built_weights(), max_history=1).certificate
    good = V.Certificate(1, boxes.lower, boxes.upper, *V.run_error_bound(w))  # w's slacks
    last = good.boxes - 1
    assert good.graph.nodes[last] == (1, (3,))
    outcome = V.check_certificate(w, good)
    assert not outcome.ok and f"node {last} " in outcome.failure
    assert ic.check(w, good) == f"readout: node {last} should be above the threshold"
    assert not V.verify(w).certified


# -- enclosures hold exact images ---------------------------------------------------------

def _exact_step(w, h, code, dps=40):
    """The GRU step at a point, with ``dps`` significant digits (h: floats or mpf)."""
    mp.dps = dps
    a, b = code // 2, code % 2
    h = [v if isinstance(v, mpf) else mpf(float(v)) for v in h]

    def pre(W, U, bias, state):
        return [mpf(float(W[0, j])) * a + mpf(float(W[1, j])) * b + mpf(float(bias[j]))
                + sum(mpf(float(U[i, j])) * state[i] for i in range(len(state)))
                for j in range(len(state))]

    z = [1 / (1 + mp.exp(-v)) for v in pre(w.W_z, w.U_z, w.b_z, h)]
    r = [1 / (1 + mp.exp(-v)) for v in pre(w.W_r, w.U_r, w.b_r, h)]
    rh = [ri * hi for ri, hi in zip(r, h, strict=True)]
    t = [mp.tanh(v) for v in pre(w.W_h, w.U_h, w.b_h, rh)]
    return [(1 - zj) * hj + zj * tj for zj, hj, tj in zip(z, h, t, strict=True)]


def _cancelling(w):
    """The bundled weights with large terms that cancel: rounding dominates the enclosure."""
    return w.replace(b_z=w.b_z + 3000.0, W_z=w.W_z - 1500.0, b_h=w.b_h - 4096.0,
                     W_h=w.W_h + 2048.0)


def _cancelling_input(w):
    """An input term ``x W + b`` whose float64 sum loses a small term: 2^40 + 2^-20 - 2^40."""
    W_z, b_z = w.W_z.copy(), w.b_z.copy()
    W_z[:, 0] = (2.0 ** 40, 2.0 ** -20)
    b_z[0] = -(2.0 ** 40)
    return w.replace(W_z=W_z, b_z=b_z)


MODELS = {"bundled": lambda w: w, "cancelling": _cancelling, "cancelling input": _cancelling_input}


@pytest.mark.parametrize("which", list(MODELS))
def test_enclosures_hold_the_exact_image_of_points(bundled, which):
    w = MODELS[which](bundled)
    rng = np.random.default_rng(0)
    centres = rng.uniform(-1, 1, size=(60, w.units))
    for width in (0.0, 1e-9, 1e-4):
        lo, hi = centres - width, centres + width
        for code in range(4):
            for mean_value in (False, True):
                low, high = V.image(w, lo, hi, code, mean_value=mean_value)
                for n in range(0, 60, 3):
                    for point in (lo[n], hi[n], 0.5 * (lo[n] + hi[n])):
                        exact = _exact_step(w, point, code)
                        for j, e in enumerate(exact):
                            assert mpf(float(low[n, j])) <= e <= mpf(float(high[n, j])), \
                                (which, width, code, mean_value, n, j)


def test_each_enclosure_primitive_holds_the_exact_value():
    # one layer at a time, so that no other layer's widening can hide a missing one
    from fractions import Fraction

    rng = np.random.default_rng(1)
    W = rng.normal(size=(5, 4)) * 1e3
    b = -(np.ones(5) @ W) + rng.normal(size=4)  # large terms that cancel
    for _ in range(200):
        h = 1.0 + rng.normal(size=(1, 5)) * 1e-3
        lo, hi = V._affine(h, h, W, b)
        for j in range(4):
            exact = sum(Fraction(float(h[0, i])) * Fraction(float(W[i, j])) for i in range(5))
            exact += Fraction(float(b[j]))
            assert Fraction(float(lo[0, j])) <= exact <= Fraction(float(hi[0, j]))
    mp.dps = 40
    x = rng.uniform(-30, 30, size=4000)
    for f, exact_f, floor, ceil in ((V._sigmoid, lambda v: 1 / (1 + mp.exp(-v)), 0.0, 1.0),
                                    (np.tanh, mp.tanh, -1.0, 1.0)):
        lo, hi = V._monotone(f, x, x, floor, ceil)
        for v, a, c in zip(x, lo, hi, strict=True):
            assert mpf(float(a)) <= exact_f(mpf(float(v))) <= mpf(float(c))
    a, c = rng.normal(size=(2, 2000))
    lo, hi = V._product(a, a, c, c)
    for p, q, low, high in zip(a, c, lo, hi, strict=True):
        exact = Fraction(float(p)) * Fraction(float(q))
        assert Fraction(float(low)) <= exact <= Fraction(float(high))


@pytest.mark.parametrize("which", list(MODELS))
def test_the_jacobian_bound_holds_the_exact_jacobian(bundled, which):
    # |d h'_i / d h_j| at points of each box, by central differences at 60 digits (error
    # about eps^2 = 1e-40), must lie below the bound for the box: the mean-value form rests on it
    w = MODELS[which](bundled)
    rng = np.random.default_rng(2)
    centres = rng.uniform(-1, 1, size=(12, w.units))
    eps = mpf("1e-20")
    for width in (0.0, 1e-6, 1e-2):
        lo, hi = centres - width, centres + width
        for code in range(4):
            x = np.broadcast_to(V._INPUTS[code], (12, 2))
            bound = V._jacobian_bound(w, lo, hi, x)
            for n in range(12):
                for point in (lo[n], hi[n]):
                    mp.dps = 60
                    base = [mpf(float(v)) for v in point]
                    for j in range(w.units):
                        up = [v + eps if k == j else v for k, v in enumerate(base)]
                        down = [v - eps if k == j else v for k, v in enumerate(base)]
                        col = [(p - q) / (2 * eps) for p, q in
                               zip(_exact_step(w, up, code, 60), _exact_step(w, down, code, 60),
                                   strict=True)]
                        for i, d in enumerate(col):
                            assert abs(d) <= mpf(float(bound[n, i, j])), (which, width, code)


def test_midpoint_radius_products_hold_the_exact_product():
    from fractions import Fraction

    rng = np.random.default_rng(3)
    for _ in range(300):
        am, bm = rng.normal(size=2) * 10.0 ** rng.integers(-8, 8, size=2)
        ar, br = np.abs(rng.normal(size=2)) * 10.0 ** rng.integers(-20, 0, size=2)
        mid, rad = V._mr_product((np.array(am), np.array(ar)), (np.array(bm), np.array(br)))
        for sa in (-1, 1):
            for sb in (-1, 1):
                exact = (Fraction(float(am)) + sa * Fraction(float(ar))) \
                    * (Fraction(float(bm)) + sb * Fraction(float(br)))
                assert abs(exact - Fraction(float(mid))) <= Fraction(float(rad))


def _off_by(value: float, rel: float, sign: int) -> float:
    """The float farthest from ``value`` in direction ``sign`` within relative error ``rel``."""
    from fractions import Fraction

    out = value
    while True:
        nxt = float(np.nextafter(out, sign * np.inf))
        if abs(Fraction(nxt) - Fraction(value)) > Fraction(rel) * abs(Fraction(value)):
            return out
        out = nxt


def test_the_sigmoid_enclosure_holds_for_an_exp_at_the_assumed_error():
    # the assumption allows exp to be 4 ulps (8 u) off; the sigmoid built on it then
    # needs 10 u and a bit, which the enclosure must allow
    mp.dps = 40
    u = 2.0 ** -53
    x = np.linspace(-36, 36, 301)
    for sign in (-1, 1):
        for v in x:
            e = _off_by(float(mp.exp(-mpf(float(v)))), 8 * u, sign)  # exp(-v), 8 u off
            s = 1.0 / (1.0 + e)
            rel = V._FUNCTION_REL["sigmoid"]
            exact = 1 / (1 + mp.exp(-mpf(float(v))))
            assert mpf(s) - rel * abs(mpf(s)) <= exact <= mpf(s) + rel * abs(mpf(s)), v


def test_derivative_bounds_hold_where_one_minus_t_squared_cancels():
    from fractions import Fraction

    t = 1.0 - np.array([2.0 ** -k for k in range(1, 52)])  # tanh values near 1
    t = np.concatenate([t, -t, np.linspace(-1, 1, 101)])
    low, high = V._bell(t, t, 0.0, lambda v: 1 - v * v)
    s = np.linspace(0, 1, 101)
    slow, shigh = V._bell(s, s, 0.5, lambda v: v * (1 - v))
    for vals, lo, hi, f in ((t, low, high, lambda q: 1 - q * q), (s, slow, shigh,
                                                                    lambda q: q * (1 - q))):
        for v, a, b in zip(vals, lo, hi, strict=True):
            exact = f(Fraction(float(v)))
            assert Fraction(float(a)) <= exact <= Fraction(float(b)), v


# -- underflow ----------------------------------------------------------------------------

@pytest.mark.parametrize("power", [130, 140, 148])
def test_a_readout_in_the_subnormal_range_is_not_certified(bundled, power):
    # TensorFlow's CPU kernels flush subnormals to zero: such a model outputs 0s there
    scale = 2.0 ** -power
    w = bundled.replace(V=bundled.V * scale, c=bundled.c * scale)
    assert not V.verify(w, max_history=3).certified


def test_the_same_readout_in_the_normal_range_is_certified_and_runs_right(bundled):
    scale = 2.0 ** -100
    w = bundled.replace(V=bundled.V * scale, c=bundled.c * scale)
    assert V.verify(w, max_history=3).certified
    model = to_model(w)
    assert model.add(3, 3) == 6 and engine.NumpyAdder(w).add(3, 3) == 6
    assert model.add(2**300 - 1, 1) == 2**300


# -- the assumed function errors, measured in every engine ---------------------------------

@numba.njit
def _numba_functions(xs):
    s, t = np.empty_like(xs), np.empty_like(xs)
    for i in range(xs.size):
        s[i] = compiled._sig(xs[i])
        t[i] = np.tanh(xs[i])
    return s, t


def _engines(x32):
    out = {"NumPy engine": (engine._sigmoid(x32.copy()), np.tanh(x32)),
           "numba": _numba_functions(x32)}
    for mode, jit in (("TensorFlow graph", False), ("TensorFlow XLA", True)):
        fs = [tf.function(fn, jit_compile=jit) for fn in (tf.sigmoid, tf.tanh)]
        out[mode] = tuple(f(tf.constant(x32)).numpy() for f in fs)
    # the page: float64 Math.exp / Math.tanh, then Math.fround (a float32 rounding)
    x64 = x32.astype(np.float64)
    out["the page (as its JavaScript computes)"] = (
        (1.0 / (1.0 + np.exp(-x64))).astype(np.float32), np.tanh(x64).astype(np.float32))
    return out


def test_every_engine_meets_the_assumed_function_error():
    x32 = np.linspace(-40, 40, 800_001, dtype=np.float32)
    x64 = x32.astype(np.float64)
    exact = (1.0 / (1.0 + np.exp(-x64)), np.tanh(x64))
    bound = V.FUNCTION_ERROR["float32"]
    for name, got in _engines(x32).items():
        assert all(g.dtype == np.float32 for g in got), name
        errors = [np.abs(g.astype(np.float64) - e).max() for g, e in zip(got, exact, strict=True)]
        assert max(errors) < bound, (name, errors)
        assert max(errors) > 1e-9, name  # float32: a bound of 1e-9 would be false


def test_tensorflow_multiplies_float32_matrices_in_float32():
    import gru_tutorial.model  # noqa: F401  (turns TF32 off)

    assert not tf.config.experimental.tensor_float_32_execution_enabled()


def test_hand_built_weights_are_what_the_float32_model_computes_with():
    # the verifier checks the weights the model runs: rounded to its dtype first
    w = hand_built_weights()
    for name, a in w.arrays.items():
        np.testing.assert_array_equal(a, np.asarray(a, np.float32).astype(np.float64), name)
    model_weights = adder.AdderWeights.from_model(to_model(w)).arrays
    for name, a in w.arrays.items():
        np.testing.assert_array_equal(model_weights[name], a, name)


# -- the message names what is proven -----------------------------------------------------

def test_the_certified_message_names_the_arithmetic_and_the_assumption(capsys):
    assert main(["verify"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("certified: the model adds correctly at every length, run step by "
                          "step in float32 or finer arithmetic on a CPU")
    assert f"within {V.FUNCTION_ERROR['float32']:g} of the true functions" in out


# -- the other cells (part 3): the plain RNN and the GRU without its reset gate ------------

def _noreset(w):
    """The hand-built GRU with its reset gate removed (it was held open, r ~ 1)."""
    keep = {k: v for k, v in w.arrays.items() if not k.endswith("_r")}
    return adder.AdderWeights("gru-noreset", keep, dtype=w.dtype)


def _hand_built_lstm(k=8.0):
    """A 3-unit LSTM adder: the hand-built RNN's units as the cell candidate, gates held.

    The input and output gates are held open and the forget gate shut (biases +-30), so
    ``c' = tanh(k (a + b + carry - threshold))`` and ``h' = tanh(c')``, about +-tanh(1);
    the carry is read from ``h_0`` scaled by ``1 / (2 tanh 1)``.
    """
    zero2, zero3 = np.zeros((2, 3)), np.zeros((3, 3))
    U_c = zero3.copy()
    U_c[0] = k / (2 * np.tanh(1.0))
    return adder.AdderWeights("lstm", {
        "W_i": zero2, "W_f": zero2, "W_o": zero2, "W_c": np.full((2, 3), k),
        "U_i": zero3, "U_f": zero3, "U_o": zero3, "U_c": U_c,
        "b_i": np.full(3, 30.0), "b_f": np.full(3, -30.0), "b_o": np.full(3, 30.0),
        "b_c": -k * np.array([1.25, 0.25, 2.25]), "V": np.array([-1.0, 1.0, 1.0]), "c": 0.0},
        dtype="float32")


HAND_BUILT = {"rnn": hand_built_rnn_weights, "gru-noreset": lambda: _noreset(hand_built_weights()),
              "lstm": _hand_built_lstm}


@pytest.mark.parametrize("cell", list(HAND_BUILT))
def test_hand_built_adders_of_the_other_cells_are_certified(cell):
    w = HAND_BUILT[cell]()
    assert w.cell == cell
    result = V.verify(w, max_history=3)
    assert result.certified and result.boxes == 9, result.failure
    assert ic.check(w, result.certificate) is None  # the independent checker agrees
    for run in (engine.NumpyAdder(w), to_model(w)):  # and so do the sums
        assert run.add(2**600 - 1, 1) == 2**600
        assert run.add(0b1011 << 300, 0b0111 << 300) == (0b1011 + 0b0111) << 300


@pytest.mark.parametrize("cell", list(HAND_BUILT))
def test_enclosures_of_the_other_cells_hold_exact_images(cell):
    w = HAND_BUILT[cell]()
    rng = np.random.default_rng(2)
    lo = rng.uniform(-1, 1, size=(30, V.state_dim(w)))
    for width in (0.0, 1e-6, 0.05):
        for code in range(4):
            low, high = V.image(w, lo - width, lo + width, code)
            for n in range(30):
                for point in (lo[n] - width, lo[n] + width):
                    exact = ic.step_enclosure(w, [ic.iv.mpf(float(v)) for v in point],
                                              ic.INPUTS[code])
                    for j, e in enumerate(exact):
                        assert float(low[n, j]) <= e.a and e.b <= float(high[n, j])


@pytest.mark.parametrize("cell", ["rnn", "gru-noreset", "lstm"])
def test_trained_models_of_the_other_cells_get_a_verdict(capsys, cell):
    from gru_tutorial.notebook import results_dir

    status = main(["verify", "--model", str(results_dir() / "why_gates_models" / cell),
                   "--max-history", "3"])
    out, err = capsys.readouterr()
    assert status in (0, 1) and err == ""
    assert out.startswith("certified" if status == 0 else "not certified")


def test_keras_gru_is_refused_with_a_clear_message(capsys):
    from gru_tutorial.notebook import results_dir

    status = main(["verify", "--model", str(results_dir() / "why_gates_models" / "keras-gru")])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert "gru, gru-noreset, rnn, lstm" in err and "'keras-gru'" in err


@pytest.mark.parametrize("cell", list(HAND_BUILT))
def test_certified_noisy_adders_add(cell):
    # soundness on models near the edge: whatever verify certifies must add; and the
    # noise is such that some models are certified and some are not
    base = HAND_BUILT[cell]()
    rng = np.random.default_rng(0)
    certified = 0
    for scale in (0.05, 0.1, 0.2, 0.5):
        for _ in range(4):
            w = base.replace(**{k: v + scale * rng.normal(size=np.shape(v))
                                for k, v in base.arrays.items()})
            if V.verify(w, max_history=2).certified:
                certified += 1
                run = engine.NumpyAdder(w)
                pairs = [(int(rng.integers(0, 2**62)) << 100, int(rng.integers(0, 2**62)))
                         for _ in range(50)]
                assert all(run.add(a, b) == a + b for a, b in pairs)
                assert run.add(2**400 - 1, 1) == 2**400
    assert 0 < certified < 16
