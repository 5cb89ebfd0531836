"""PyTorch peer of the CycleGAN training-step benchmark (run by `bench_cyclegan.py` through a subprocess, with any
python that has torch, e.g. torch 2.13.0+cpu):

    python benchmarks/_torch_cyclegan.py --size 256 --ngf 64 --ndf 64 --blocks 9 --steps 5 --threads 2

It rebuilds exactly the reference CycleGAN of junyanz/pytorch-CycleGAN-and-pix2pix (``models/networks.py``,
``models/cycle_gan_model.py``, ``util/image_pool.py``) with 1 input and 1 output channel: two ResnetGenerators
(reflect padding, InstanceNorm2d without affine or running stats, no dropout, ``--blocks`` residual blocks), two
70x70 PatchGAN NLayerDiscriminators (n_layers=3, InstanceNorm2d), 'normal' init with gain 0.02, LSGAN (MSE) GAN
losses, L1 cycle losses (lambda 10) and L1 identity losses (0.5 x 10), Adam(lr 2e-4, betas (0.5, 0.999)) for the
generators and for the discriminators, and ImagePool(50) of past fakes for the discriminator step.

One timed step is the reference ``CycleGANModel.optimize_parameters()`` on a batch of one pair of random float32
images in [-1, 1] of shape (1, 1, size, size) (fixed seed): forward, generator update with the discriminators
frozen, then discriminator update. After ``torch.set_num_threads(threads)`` it runs 2 warm-up steps, then times
``--steps`` steps with ``time.perf_counter`` (torch on CPU is synchronous), with the minor page faults and kernel CPU
seconds of each step (``getrusage``). Then it times ``--steps`` passes of one generator alone (forward + backward,
gradients of the parameters and the input, batch 1; after 2 warm-up passes). The last stdout line is one JSON object
with the median / mean step seconds, the first warm-up step, the generator pass, the page faults and system time per
step, the configuration and the parameter counts of one generator and one discriminator (so the JAX side can check
it built the same architecture).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import time

import torch
from torch import nn


def norm(channels: int) -> nn.Module:
    """InstanceNorm2d(affine=False, track_running_stats=False), the reference 'instance' norm layer."""
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResnetBlock(nn.Module):
    """x + [ReflectionPad(1), Conv3, IN, ReLU, ReflectionPad(1), Conv3, IN](x)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0, bias=True), norm(dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0, bias=True), norm(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


def resnet_generator(input_nc: int, output_nc: int, ngf: int, n_blocks: int) -> nn.Sequential:
    """The reference ResnetGenerator (use_bias=True because the norm is InstanceNorm)."""
    layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, padding=0, bias=True), norm(ngf), nn.ReLU(True)]
    for i in range(2):  # downsampling
        mult = 2**i
        layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=True),
                   norm(ngf * mult * 2), nn.ReLU(True)]
    layers += [ResnetBlock(ngf * 4) for _ in range(n_blocks)]
    for i in range(2):  # upsampling
        mult = 2 ** (2 - i)
        layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1,
                                      bias=True), norm(ngf * mult // 2), nn.ReLU(True)]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7, padding=0), nn.Tanh()]
    return nn.Sequential(*layers)


def n_layer_discriminator(input_nc: int, ndf: int, n_layers: int = 3) -> nn.Sequential:
    """The reference NLayerDiscriminator (70x70 PatchGAN for n_layers=3)."""
    kw, padw = 4, 1
    layers = [nn.Conv2d(input_nc, ndf, kw, stride=2, padding=padw), nn.LeakyReLU(0.2, True)]
    mult = 1
    for n in range(1, n_layers):
        prev, mult = mult, min(2**n, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, kw, stride=2, padding=padw, bias=True),
                   norm(ndf * mult), nn.LeakyReLU(0.2, True)]
    prev, mult = mult, min(2**n_layers, 8)
    layers += [nn.Conv2d(ndf * prev, ndf * mult, kw, stride=1, padding=padw, bias=True),
               norm(ndf * mult), nn.LeakyReLU(0.2, True)]
    layers += [nn.Conv2d(ndf * mult, 1, kw, stride=1, padding=padw)]
    return nn.Sequential(*layers)


def init_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """Reference init_type='normal': Conv/ConvTranspose weights ~ N(0, gain), biases 0."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight.data, 0.0, gain)
            if m.bias is not None:
                nn.init.constant_(m.bias.data, 0.0)
    return net


class ImagePool:
    """The reference ImagePool: fills up to pool_size, then with prob. 0.5 swaps the new image for a stored one."""

    def __init__(self, pool_size: int) -> None:
        self.pool_size, self.num_imgs, self.images = pool_size, 0, []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.pool_size == 0:
            return images
        out = []
        for image in images:
            image = torch.unsqueeze(image.data, 0)
            if self.num_imgs < self.pool_size:
                self.num_imgs += 1
                self.images.append(image)
                out.append(image)
            elif random.uniform(0, 1) > 0.5:
                rid = random.randint(0, self.pool_size - 1)
                tmp = self.images[rid].clone()
                self.images[rid] = image
                out.append(tmp)
            else:
                out.append(image)
        return torch.cat(out, 0)


def set_requires_grad(nets: list[nn.Module], flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad = flag


def gan_loss(pred: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    """LSGAN: MSE against a tensor of 1.0 (real) or 0.0 (fake) expanded to the prediction's shape."""
    target = torch.tensor(1.0 if target_is_real else 0.0).expand_as(pred)
    return nn.functional.mse_loss(pred, target)


class CycleGAN:
    """Reference CycleGANModel (training mode) for one pair of images per step."""

    def __init__(self, nc: int, ngf: int, ndf: int, blocks: int, lambda_a: float = 10.0, lambda_b: float = 10.0,
                 lambda_idt: float = 0.5, lr: float = 2e-4, beta1: float = 0.5, pool_size: int = 50) -> None:
        self.G_A = init_weights(resnet_generator(nc, nc, ngf, blocks))
        self.G_B = init_weights(resnet_generator(nc, nc, ngf, blocks))
        self.D_A = init_weights(n_layer_discriminator(nc, ndf, 3))
        self.D_B = init_weights(n_layer_discriminator(nc, ndf, 3))
        self.lambda_a, self.lambda_b, self.lambda_idt = lambda_a, lambda_b, lambda_idt
        self.opt_G = torch.optim.Adam([*self.G_A.parameters(), *self.G_B.parameters()], lr=lr, betas=(beta1, 0.999))
        self.opt_D = torch.optim.Adam([*self.D_A.parameters(), *self.D_B.parameters()], lr=lr, betas=(beta1, 0.999))
        self.fake_A_pool, self.fake_B_pool = ImagePool(pool_size), ImagePool(pool_size)

    def forward(self) -> None:
        self.fake_B = self.G_A(self.real_A)
        self.rec_A = self.G_B(self.fake_B)
        self.fake_A = self.G_B(self.real_B)
        self.rec_B = self.G_A(self.fake_A)

    def backward_G(self) -> None:
        la, lb, li = self.lambda_a, self.lambda_b, self.lambda_idt
        l1 = nn.functional.l1_loss
        loss_idt_A = l1(self.G_A(self.real_B), self.real_B) * lb * li
        loss_idt_B = l1(self.G_B(self.real_A), self.real_A) * la * li
        loss_G_A = gan_loss(self.D_A(self.fake_B), True)
        loss_G_B = gan_loss(self.D_B(self.fake_A), True)
        loss_cycle_A = l1(self.rec_A, self.real_A) * la
        loss_cycle_B = l1(self.rec_B, self.real_B) * lb
        self.loss_G = loss_G_A + loss_G_B + loss_cycle_A + loss_cycle_B + loss_idt_A + loss_idt_B
        self.loss_G.backward()

    @staticmethod
    def backward_D_basic(net_d: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        loss_d = (gan_loss(net_d(real), True) + gan_loss(net_d(fake.detach()), False)) * 0.5
        loss_d.backward()
        return loss_d.detach()

    def optimize_parameters(self, real_A: torch.Tensor, real_B: torch.Tensor) -> float:
        self.real_A, self.real_B = real_A, real_B
        self.forward()
        set_requires_grad([self.D_A, self.D_B], False)
        self.opt_G.zero_grad()
        self.backward_G()
        self.opt_G.step()
        set_requires_grad([self.D_A, self.D_B], True)
        self.opt_D.zero_grad()
        self.loss_D_A = self.backward_D_basic(self.D_A, self.real_B, self.fake_B_pool.query(self.fake_B))
        self.loss_D_B = self.backward_D_basic(self.D_B, self.real_A, self.fake_A_pool.query(self.fake_A))
        self.opt_D.step()
        return float(self.loss_G.detach())


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def generator_pass_s(net: nn.Module, image: torch.Tensor, repeats: int) -> float:
    """Median time of one generator's forward + backward (parameter and input gradients), after 2 warm-ups."""
    times = []
    for i in range(repeats + 2):
        x = image.clone().requires_grad_(True)
        net.zero_grad()
        t = time.perf_counter()
        net(x).sum().backward()
        if i >= 2:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=256, help="image side in pixels")
    ap.add_argument("--ngf", type=int, default=64)
    ap.add_argument("--ndf", type=int, default=64)
    ap.add_argument("--blocks", type=int, default=9)
    ap.add_argument("--steps", type=int, default=5, help="timed steps after 2 warm-up steps")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--nc", type=int, default=1, help="input = output channels (3 reproduces the RGB reference)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    model = CycleGAN(args.nc, args.ngf, args.ndf, args.blocks)
    shape = (1, args.nc, args.size, args.size)
    real_a = torch.rand(shape, dtype=torch.float32) * 2.0 - 1.0
    real_b = torch.rand(shape, dtype=torch.float32) * 2.0 - 1.0

    warm = []
    for _ in range(2):
        t = time.perf_counter()
        model.optimize_parameters(real_a, real_b)
        warm.append(time.perf_counter() - t)
    times, faults, sys_s = [], [], []
    for _ in range(args.steps):
        r0, t = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        loss_g = model.optimize_parameters(real_a, real_b)
        times.append(time.perf_counter() - t)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        faults.append(r1.ru_minflt - r0.ru_minflt)
        sys_s.append(r1.ru_stime - r0.ru_stime)
    g_pass = generator_pass_s(model.G_A, real_a, args.steps)
    print(f"torch CycleGAN step: size {args.size}, ngf {args.ngf}, ndf {args.ndf}, blocks {args.blocks}, "
          f"threads {args.threads}; steps {[round(s, 3) for s in times]} s; warm-up {[round(s, 3) for s in warm]} s; "
          f"one generator pass {g_pass:.3f} s; {statistics.median(faults):,.0f} page faults and "
          f"{statistics.median(sys_s):.2f} s system time per step; "
          f"loss_G {loss_g:.4f}, loss_D_A {float(model.loss_D_A):.4f}, loss_D_B {float(model.loss_D_B):.4f}")
    print(json.dumps({"torch_step_s": round(statistics.median(times), 4),
                      "torch_step_mean_s": round(statistics.fmean(times), 4), "torch_warmup_s": round(warm[0], 4),
                      "torch_g_pass_s": round(g_pass, 4), "torch_page_faults_per_step": int(statistics.median(faults)),
                      "torch_sys_s_per_step": round(statistics.median(sys_s), 3),
                      "size": args.size, "ngf": args.ngf, "ndf": args.ndf, "blocks": args.blocks,
                      "threads": args.threads, "steps": args.steps, "nc": args.nc, "torch_version": torch.__version__,
                      "generator_params": n_params(model.G_A), "discriminator_params": n_params(model.D_A),
                      "loss_G": round(loss_g, 6)}))


if __name__ == "__main__":
    main()
