"""CycleGAN training step at 256×256, batch 1: cardiojax (JAX/flax nnx) against the same network in PyTorch.

Both sides run the reference CycleGAN (Zhu et al. 2017; junyanz/pytorch-CycleGAN-and-pix2pix defaults,
1-channel): two ResNet generators (ngf 64, 9 blocks), two 70×70 PatchGANs (ndf 64), least-squares GAN loss,
cycle weight 10, identity 0.5, image pool 50, Adam 2e-4 (β1 = 0.5). One step = generators update then
discriminators update. The parameter counts of both sides are printed and must agree.

JAX side: the whole step is one jit-compiled function; it is compiled first (``compile_s``), then ``--steps``
steps are timed after ``block_until_ready`` and the median is reported. The residual blocks' 3×3 convolutions run
as Winograd F(4×4, 3×3) at this size (`cardiojax.imaging.winograd`: the same map, round-off about 1e-5 relative
in float32; it makes compiling slower, ≈ 23 s instead of ≈ 10 s); torch runs its default (oneDNN direct)
convolutions. The PyTorch side (`_torch_cyclegan.py`, torch 2.13.0 CPU) runs in the same invocation as a
subprocess of ``--torch-python`` (default: this interpreter, e.g. after ``pip install -e '.[torch]'``; or any venv
with torch) with the same thread count, after 2 warm-up steps.

To show where the time goes, both sides also report:

* ``g_pass_s`` / ``torch_g_pass_s``: one generator's forward + backward (gradients of the parameters and the
  input, batch 1) on its own, median of ``--steps``; a step holds six such image passes (G_A and G_B on the real
  image, on the other generator's output and, for the identity loss, on the other domain's image);
* ``page_faults_per_step`` / ``torch_page_faults_per_step`` and ``sys_s_per_step`` / ``torch_sys_s_per_step``
  (``getrusage``: minor page faults and kernel CPU seconds per timed step). XLA allocates the step's scratch
  memory (``temp_gb``) afresh at every call, and the kernel maps and zeroes it page by page; torch's allocator
  keeps its memory between steps.

XLA flags: this entry point sets ``--xla_cpu_experimental_ynn_fusion_type=dot`` (YNNPACK for dots and
convolutions on CPU) unless XLA_FLAGS is already set; ``--no-ynn`` measures without it.

    python benchmarks/bench_cyclegan.py                    # 256², ngf 64, 9 blocks, 5 timed steps each
    python benchmarks/bench_cyclegan.py --size 128 --ngf 16

Last line: ``{"step_s": ..., "torch_step_s": ..., "speedup_vs_torch": ..., ...}``.
"""

from __future__ import annotations

import os
import sys

YNN_FLAG = "--xla_cpu_experimental_ynn_fusion_type=dot"
if "--no-ynn" not in sys.argv:
    os.environ.setdefault("XLA_FLAGS", YNN_FLAG)

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from flax import nnx  # noqa: E402

from cardiojax.imaging.cyclegan import CycleGAN, CycleGANConfig  # noqa: E402
from cardiojax.imaging.networks import count_params  # noqa: E402

HERE = Path(__file__).resolve().parent


def jax_side(args) -> dict:
    config = CycleGANConfig(ngf=args.ngf, ndf=args.ndf, n_blocks=args.blocks, lambda_paired=0.0)
    gan = CycleGAN(config, (args.size, args.size))
    state = gan.init()
    k_a, k_b = jax.random.split(jax.random.key(0))
    shape = (1, args.size, args.size, 1)
    batch = {"a": jax.random.uniform(k_a, shape, minval=-1.0, maxval=1.0),
             "b": jax.random.uniform(k_b, shape, minval=-1.0, maxval=1.0),
             "paired": jnp.zeros((1,)), "blood_pool": jnp.zeros(shape), "fraction": jnp.ones((1,))}
    t0 = time.perf_counter()
    step = gan._step.lower(state, batch).compile()
    compile_s = time.perf_counter() - t0
    times, faults, sys_s = [], [], []
    for i in range(args.steps + 1):  # the first (warm-up) step is not timed
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        state, losses = step(state, batch)
        jax.block_until_ready((state, losses))
        t1, r1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        if i:
            times.append(t1 - t0)
            faults.append(r1.ru_minflt - r0.ru_minflt)
            sys_s.append(r1.ru_stime - r0.ru_stime)
    g = nnx.merge(gan.g_def, state.g_a)
    d = nnx.merge(gan.d_def, state.d_a)
    return {"step_s": statistics.median(times), "step_times": [round(t, 3) for t in times],
            "compile_s": compile_s, "generator_params": count_params(g), "discriminator_params": count_params(d),
            "loss_G": float(losses["generator"]), "g_pass_s": generator_pass_s(gan, state, batch["a"], args.steps),
            "page_faults_per_step": statistics.median(faults), "sys_s_per_step": statistics.median(sys_s),
            "temp_gb": scratch_gb(step)}


def scratch_gb(compiled) -> float | None:
    """Size of the compiled step's scratch (temporary) buffer, GB (None if the backend does not say)."""
    stats = compiled.memory_analysis()
    return None if stats is None else stats.temp_size_in_bytes / 1e9


def generator_pass_s(gan: CycleGAN, state, image, repeats: int) -> float:
    """Median time of one generator's forward + backward (parameter and input gradients), batch 1."""
    def loss(params, x):
        return jnp.sum(nnx.merge(gan.g_def, params)(x))

    grad = jax.jit(jax.grad(loss, argnums=(0, 1))).lower(state.g_a, image).compile()
    jax.block_until_ready(grad(state.g_a, image))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(grad(state.g_a, image))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def torch_side(args) -> dict:
    cmd = [args.torch_python, str(HERE / "_torch_cyclegan.py"), "--size", str(args.size), "--ngf", str(args.ngf),
           "--ndf", str(args.ndf), "--blocks", str(args.blocks), "--steps", str(args.steps),
           "--threads", str(args.threads)]
    print("+", " ".join(cmd), flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise SystemExit(f"the PyTorch peer failed ({args.torch_python}): {' | '.join(tail)}\n"
                         "install torch 2.13.0 CPU (pip install 'cardiojax[torch]' --index-url "
                         "https://download.pytorch.org/whl/cpu) or pass --torch-python PATH")
    lines = done.stdout.strip().splitlines()
    print(lines[-2] if len(lines) > 1 else "", flush=True)
    return json.loads(lines[-1])


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=256, help="image side, px (default 256)")
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--ndf", type=int, default=64)
    p.add_argument("--blocks", type=int, default=9)
    p.add_argument("--steps", type=int, default=5, help="timed steps per side (default 5)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: all cores)")
    p.add_argument("--torch-python", default=sys.executable, help="python with torch (default: this one)")
    p.add_argument("--no-ynn", action="store_true", help="do not set the YNNPACK XLA flag")
    args = p.parse_args(argv)
    if args.size % 4 or args.size < 32:
        p.error(f"--size {args.size}: expected a multiple of 4, ≥ 32")

    print(f"JAX {jax.__version__} on {jax.devices()[0].platform}, XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}")
    ours = jax_side(args)
    print(f"cardiojax: compile {ours['compile_s']:.1f} s, steps {ours['step_times']} s "
          f"(median {ours['step_s']:.3f} s), G params {ours['generator_params']:,}, "
          f"D params {ours['discriminator_params']:,}; one generator pass {ours['g_pass_s']:.3f} s; "
          f"{ours['page_faults_per_step']:,.0f} page faults and {ours['sys_s_per_step']:.2f} s system time "
          f"per step (scratch {'?' if ours['temp_gb'] is None else format(ours['temp_gb'], '.2f')} GB)", flush=True)
    peer = torch_side(args)
    same = (peer["generator_params"], peer["discriminator_params"]) == (ours["generator_params"],
                                                                         ours["discriminator_params"])
    if not same:
        print("WARNING: the two sides have different parameter counts — not the same architecture", file=sys.stderr)
    result = {
        "step_s": round(ours["step_s"], 4),
        "torch_step_s": round(peer["torch_step_s"], 4),
        "speedup_vs_torch": round(peer["torch_step_s"] / ours["step_s"], 3),
        "g_pass_s": round(ours["g_pass_s"], 4),
        "torch_g_pass_s": round(peer["torch_g_pass_s"], 4),
        "page_faults_per_step": int(ours["page_faults_per_step"]),
        "torch_page_faults_per_step": int(peer["torch_page_faults_per_step"]),
        "sys_s_per_step": round(ours["sys_s_per_step"], 3),
        "torch_sys_s_per_step": round(peer["torch_sys_s_per_step"], 3),
        "temp_gb": None if ours["temp_gb"] is None else round(ours["temp_gb"], 3),
        "compile_s": round(ours["compile_s"], 2),
        "torch_warmup_s": round(peer["torch_warmup_s"], 2),
        "size": args.size, "ngf": args.ngf, "ndf": args.ndf, "blocks": args.blocks, "batch": 1,
        "steps": args.steps, "threads": args.threads, "same_parameter_count": same,
        "generator_params": ours["generator_params"], "discriminator_params": ours["discriminator_params"],
        "xla_flags": os.environ.get("XLA_FLAGS", ""), "torch_version": peer.get("torch_version"),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
