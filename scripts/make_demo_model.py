#!/usr/bin/python3
"""Makes the small model the README's first command runs with no arguments: a compact CNN with the
building blocks of the seed networks (conv+BN+ReLU, depthwise conv, a residual add, pooling, a
classifier Gemm), exported by PyTorch with seeded weights, plus a reference input and PyTorch's own
output for it. The outputs are committed under models/ so a fresh machine needs no PyTorch.

usage: make_demo_model.py OUTDIR"""
import sys, os
import numpy as np, torch, torch.nn as nn

class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False); self.bn1 = nn.BatchNorm2d(c)
        self.pw = nn.Conv2d(c, c, 1, bias=False); self.bn2 = nn.BatchNorm2d(c)
    def forward(self, x):
        y = torch.relu(self.bn1(self.dw(x)))
        return torch.relu(self.bn2(self.pw(y)) + x)

class DemoNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU6())
        self.b1 = Block(32)
        self.down = nn.Sequential(nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        self.b2 = Block(64)
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Linear(64, 10)
    def forward(self, x):
        x = self.pool(self.b2(self.down(self.b1(self.stem(x)))))
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return torch.softmax(self.head(x), dim=1)

out = sys.argv[1]; os.makedirs(out, exist_ok=True)
torch.manual_seed(0)
m = DemoNet().eval()
for mod in m.modules():  # non-trivial BN statistics so folding is exercised
    if isinstance(mod, nn.BatchNorm2d):
        mod.running_mean.uniform_(-0.2, 0.2); mod.running_var.uniform_(0.5, 1.5)
x = torch.randn(1, 3, 96, 96, generator=torch.Generator().manual_seed(1))
with torch.no_grad(): y = m(x)
torch.onnx.export(m, x, f"{out}/demo.onnx", input_names=["input"], output_names=["probabilities"],
                  opset_version=13, dynamic_axes={"input": {0: "batch"}, "probabilities": {0: "batch"}})
np.save(f"{out}/demo.input.npy", x.numpy()); np.save(f"{out}/demo.output.npy", y.numpy())
print(f"demo model: input {tuple(x.shape)} -> probabilities {tuple(y.shape)}")
