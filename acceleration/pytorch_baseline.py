#!/usr/bin/python3
"""PyTorch baseline for the acceleration module's targets, measured on this machine.

Trains the course's reference MLP (784-256-128-10) and CNN (conv16-pool-conv32-pool-
fc128-fc10) for one epoch on Fashion-MNIST exactly as //acceleration:train_mnist does
(batch 64, Adam 1e-3, the same pixel normalization), with 1 and 2 threads, and measures
batch-1 forward latency in several inference configurations (plain no_grad,
inference_mode, TorchScript trace + freeze), keeping the best, as the issue asks.

Needs Debian's python3-torch (not installed by tools/tito: the course does not depend
on PyTorch; this is a by-hand measurement):

    apt-get install python3-torch
    /usr/bin/python3 acceleration/pytorch_baseline.py --json=/tmp/pytorch.json
"""

import argparse
import gzip
import json
import statistics
import time

import numpy as np
import torch
from torch import nn

DATA = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530


def load(split):
    with gzip.open(f"{DATA}/{split}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(f"{DATA}/{split}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    x = (images.astype(np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64))


def mlp():
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def cnn():
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def epoch_seconds(make, shape, x, y, threads, seed=1):
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = make()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    perm = torch.randperm(len(x))
    start = time.perf_counter()
    for i in range(0, len(x), 64):
        idx = perm[i:i + 64]
        xb = x[idx].reshape(-1, *shape)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), y[idx])
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    return seconds, model


def accuracy(model, shape, x, y):
    model.eval()
    with torch.inference_mode():
        return (model(x.reshape(-1, *shape)).argmax(1) == y).float().mean().item()


def latency_us(model, shape, threads, repeats=2000):
    """Median batch-1 forward latency over several configurations; returns the best."""
    torch.set_num_threads(threads)
    model.eval()
    x = torch.randn(1, *shape)
    results = {}
    with torch.no_grad():
        traced = torch.jit.freeze(torch.jit.trace(model, x))
    configs = {
        "no_grad": (torch.no_grad, model),
        "inference_mode": (torch.inference_mode, model),
        "jit_freeze": (torch.no_grad, traced),
    }
    for name, (ctx, fn) in configs.items():
        with ctx():
            for _ in range(200):  # warm up (and let the JIT specialize)
                fn(x)
            samples = []
            for _ in range(repeats):
                t = time.perf_counter_ns()
                fn(x)
                samples.append(time.perf_counter_ns() - t)
        results[name] = statistics.median(samples) / 1e3
    best = min(results, key=results.get)
    return results[best], best, results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    x, y = load("train")
    xt, yt = load("t10k")
    out = {"torch_version": torch.__version__}
    for name, make, shape in (("mlp", mlp, (784,)), ("cnn", cnn, (1, 28, 28))):
        for threads in (1, 2):
            seconds, model = epoch_seconds(make, shape, x, y, threads)
            acc = accuracy(model, shape, xt, yt)
            print(f"{name} one epoch, {threads} thread(s): {seconds:.2f} s, "
                  f"test accuracy {acc:.4f}")
            out[f"{name}_epoch_seconds_{threads}t"] = seconds
            out[f"{name}_accuracy_1epoch_{threads}t"] = acc
            lat, best, all_lat = latency_us(model, shape, threads)
            print(f"{name} batch-1 latency, {threads} thread(s): best {lat:.1f} us ({best}); "
                  + ", ".join(f"{k} {v:.1f}" for k, v in all_lat.items()))
            out[f"{name}_latency_us_batch1_{threads}t"] = lat
    print(json.dumps(out))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f)


if __name__ == "__main__":
    main()
