"""TensorFlow peer of the PINN training-step benchmark (run by `bench_pinn.py` through a subprocess, with any python
that has TensorFlow 2, e.g. ``pip install tensorflow-cpu`` in a separate venv):

    python benchmarks/_tf_pinn.py --depth 6 --width 100 --batch 1024 --steps 20 --threads 2

It rebuilds the training step of Kissas et al.'s in-vivo PINN (their ``Real/pinn_ns_bif.py``; written anew here,
the same computation in TensorFlow 2 graph mode): 4 tanh networks [2, width × depth, 3] (Xavier init), outputs
(exp(A), u, p); per vessel the measurement rows (1600, 1600, 800, 1600), the residual rows (``--batch``) with the
derivatives p_x, A_t, A_x, u_t, u_x taken by reverse mode as their ``tf.gradients`` calls, the tube-law term, and
the interface terms (5 network evaluations at ``--batch`` times: mass, total pressure, aorta3→aorta4 continuity);
one Adam step on the sum. Inputs are random numbers of the right shapes (the time does not depend on their values).
After ``--warmup`` steps it times ``--steps`` steps; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import tensorflow as tf


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--depth", type=int, default=6, help="hidden layers (the authors' in-vivo network: 6)")
    ap.add_argument("--width", type=int, default=100)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    rng = np.random.default_rng(0)
    sizes = [2] + [args.width] * args.depth + [3]

    def xavier(n_in, n_out):
        std = np.sqrt(2.0 / (n_in + n_out))
        return tf.Variable(tf.random.truncated_normal([n_in, n_out], stddev=std, seed=int(rng.integers(1 << 30))))

    nets = [[(xavier(a, b), tf.Variable(tf.zeros([1, b]))) for a, b in zip(sizes[:-1], sizes[1:])] for _ in range(4)]
    variables = [v for net in nets for layer in net for v in layer]

    def forward(net, x, t):
        h = tf.concat([x, t], 1)
        for w, b in net[:-1]:
            h = tf.tanh(tf.matmul(h, w) + b)
        y = tf.matmul(h, net[-1][0]) + net[-1][1]
        return tf.exp(y[:, 0:1]), y[:, 1:2], y[:, 2:3]

    n_meas = (1600, 1600, 800, 1600)
    f32 = lambda a: tf.constant(a, tf.float32)  # noqa: E731
    xu = [f32(rng.standard_normal((m, 1))) for m in n_meas]
    tu = [f32(rng.standard_normal((m, 1))) for m in n_meas]
    au = [f32(rng.random((m, 1)) + 0.5) for m in n_meas]
    uu = [f32(rng.standard_normal((m, 1))) for m in n_meas]
    xf = [f32(rng.standard_normal((args.batch, 1))) for _ in range(4)]
    tf_ = f32(rng.standard_normal((args.batch, 1)))
    ends = [f32(np.full((args.batch, 1), v)) for v in (1.0, -1.0, -1.0, 1.0, -1.0)]
    opt = tf.keras.optimizers.Adam(1e-3)

    @tf.function
    def step():
        with tf.GradientTape() as outer:
            loss = 0.0
            for v in range(4):
                a_m, u_m, _ = forward(nets[v], xu[v], tu[v])
                loss += tf.reduce_mean(tf.square(au[v] - a_m)) + tf.reduce_mean(tf.square(uu[v] - u_m))
                x, t = xf[v], tf_
                with tf.GradientTape(persistent=True) as inner:
                    inner.watch([x, t])
                    a, u, p = forward(nets[v], x, t)
                p_x, a_t, a_x = inner.gradient(p, x), inner.gradient(a, t), inner.gradient(a, x)
                u_t, u_x = inner.gradient(u, t), inner.gradient(u, x)
                del inner
                r_p = 1e4 + 2e6 * (tf.sqrt(a) - 0.015)
                loss += tf.reduce_mean(tf.square(a_t + u * a_x + a * u_x)) + tf.reduce_mean(
                    tf.square(u_t + p_x + u * u_x)) + tf.reduce_mean(tf.square(p - r_p * 1e-4))
            a1, u1, p1 = forward(nets[0], ends[0], tf_)
            a2, u2, p2 = forward(nets[1], ends[1], tf_)
            a3, u3, p3 = forward(nets[2], ends[2], tf_)
            a3u, u3u, p3u = forward(nets[2], ends[3], tf_)
            a4, u4, p4 = forward(nets[3], ends[4], tf_)
            loss += tf.reduce_mean(tf.square(a1 * u1 - a2 * u2 - a3 * u3))
            loss += tf.reduce_mean(tf.square(p1 + 0.5 * u1 ** 2 - p2 - 0.5 * u2 ** 2))
            loss += tf.reduce_mean(tf.square(p1 + 0.5 * u1 ** 2 - p3 - 0.5 * u3 ** 2))
            loss += (tf.reduce_mean(tf.square(u3u - u4)) + tf.reduce_mean(tf.square(a3u - a4))
                     + tf.reduce_mean(tf.square(p3u - p4)))
        grads = outer.gradient(loss, variables)
        opt.apply_gradients(zip(grads, variables))
        return loss

    t0 = time.perf_counter()
    step().numpy()
    first = time.perf_counter() - t0
    for _ in range(args.warmup - 1):
        step().numpy()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step().numpy()
        times.append(time.perf_counter() - t0)
    print(json.dumps({"tf_s_per_iter": statistics.median(times), "tf_mean_s": statistics.mean(times),
                      "tf_first_step_s": first, "tf_version": tf.__version__, "depth": args.depth,
                      "width": args.width, "batch": args.batch, "threads": args.threads}))


if __name__ == "__main__":
    main()
