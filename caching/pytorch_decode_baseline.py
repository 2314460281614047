#!/usr/bin/python3
"""PyTorch eager baseline for the caching module's decode target, measured on this machine.

The same character-level GPT as tensor/models.h (d_model 128, 4 heads, 4 layers, pre-LN
blocks, a 4x tanh-GELU MLP, learned position embeddings) with the vocabulary of the
fortunes text (114 characters) and the context of //caching:report's model (640), with
random weights (speed does not depend on their values), generating greedily at batch 1
on one thread:

  - cached: the prompt in one pass (prefill), then one token per step reading a
    preallocated KV cache of shape (layers, 1, heads, max_len, head_dim), written in
    place, as a PyTorch user would write it by hand;
  - uncached: every step runs the whole prefix again (the quadratic baseline).

Reported per run: decode tokens/s (new tokens / decode time, prefill excluded: what
//caching:report calls decode_tokens_per_s_batch1), end-to-end tokens/s (prefill
included) and the uncached tokens/s, each the median of --repeats runs, and whether
cached and uncached produced the same tokens; also 1 / the median decode step, which a
busy machine's preemptions do not move (//caching:report's decode_tokens_per_s_median_step).

Needs Debian's python3-torch (the course does not depend on PyTorch; CI never runs this
file). Run by hand:

    /usr/bin/python3 caching/pytorch_decode_baseline.py --json=/tmp/pytorch_decode.json
"""

import argparse
import json
import math
import statistics
import time

import torch
from torch import nn
from torch.nn import functional as F


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads, self.hd = heads, d // heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def attention(self, x, cache, pos):
        """x: (1, T, C) at positions pos..pos+T-1. cache: (k, v) each (1, H, L, hd) or None."""
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, self.hd).permute(2, 0, 3, 1, 4)
        if cache is not None:
            cache[0][:, :, pos:pos + t] = k
            cache[1][:, :, pos:pos + t] = v
            k, v = cache[0][:, :, :pos + t], cache[1][:, :, :pos + t]
        s = k.shape[2]
        scores = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(self.hd))  # (1, H, T, S)
        if t > 1:  # query i sits at absolute position s - t + i
            mask = torch.ones(t, s, dtype=torch.bool).triu(s - t + 1)
            scores = scores.masked_fill(mask, float("-inf"))
        y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, c)
        return self.proj(y)

    def forward(self, x, cache, pos):
        x = x + self.attention(self.ln1(x), cache, pos)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self, vocab=114, d=128, heads=4, layers=4, context=640):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(context, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.norm, self.head = nn.LayerNorm(d), nn.Linear(d, vocab)
        self.shape = (layers, heads, context, d // heads)

    def new_cache(self):
        layers, heads, context, hd = self.shape
        return [(torch.zeros(1, heads, context, hd), torch.zeros(1, heads, context, hd))
                for _ in range(layers)]

    def forward(self, ids, cache=None, pos=0):
        """ids: (1, T) at positions pos..pos+T-1 -> logits of the last position (vocab,)."""
        t = ids.shape[1]
        h = self.tok(ids) + self.pos(torch.arange(pos, pos + t))
        for i, block in enumerate(self.blocks):
            h = block(h, cache[i] if cache is not None else None, pos)
        return self.head(self.norm(h[:, -1]))[0]


def generate_cached(model, prompt, new_tokens):
    """Returns (tokens, prefill seconds, decode seconds, seconds of each decode step)."""
    cache = model.new_cache()
    start = time.perf_counter()
    logits = model(prompt, cache, 0)
    token = int(logits.argmax())
    prefill = time.perf_counter() - start
    out, pos, steps = [token], prompt.shape[1], []
    start = time.perf_counter()
    for _ in range(new_tokens - 1):
        step = time.perf_counter()
        logits = model(torch.tensor([[token]]), cache, pos)
        pos += 1
        token = int(logits.argmax())
        out.append(token)
        steps.append(time.perf_counter() - step)
    return out, prefill, time.perf_counter() - start, steps


def generate_uncached(model, prompt, new_tokens):
    """Returns (tokens, seconds): the whole prefix runs again for every new token."""
    ids = prompt
    out = []
    start = time.perf_counter()
    for _ in range(new_tokens):
        token = int(model(ids).argmax())
        out.append(token)
        ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
    return out, time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--new_tokens", type=int, default=256)
    p.add_argument("--prompt_len", type=int, default=32)
    p.add_argument("--context", type=int, default=640, help="position table length")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no_uncached", action="store_true", help="skip the slow baseline")
    p.add_argument("--json", default="")
    args = p.parse_args()
    if args.prompt_len + args.new_tokens > args.context:
        p.error("prompt_len + new_tokens must fit in --context")

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = Gpt(context=args.context).eval()
    prompt = torch.randint(0, 96, (1, args.prompt_len))
    decode, e2e, uncached, same, steps = [], [], [], True, []
    with torch.inference_mode():
        generate_cached(model, prompt, 16)  # warm up the allocator and the kernels
        for _ in range(args.repeats):
            tokens, prefill_s, decode_s, step_s = generate_cached(model, prompt, args.new_tokens)
            steps += step_s
            decode.append((args.new_tokens - 1) / decode_s)
            e2e.append(args.new_tokens / (prefill_s + decode_s))
        if not args.no_uncached:
            for _ in range(max(1, args.repeats // 3)):
                ref, seconds = generate_uncached(model, prompt, args.new_tokens)
                uncached.append(args.new_tokens / seconds)
                same = same and ref == tokens

    figures = {
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "prompt_len": args.prompt_len,
        "new_tokens": args.new_tokens,
        "pytorch_cached_decode_tokens_per_s": statistics.median(decode),
        "pytorch_cached_tokens_per_s": statistics.median(e2e),
        "pytorch_decode_tokens_per_s_median_step": 1.0 / statistics.median(steps),
    }
    if uncached:
        figures["pytorch_uncached_tokens_per_s"] = statistics.median(uncached)
        figures["pytorch_cached_vs_uncached"] = statistics.median(e2e) / statistics.median(uncached)
        figures["cached_equals_uncached"] = same
    print(f"PyTorch {torch.__version__} eager, {torch.get_num_threads()} thread(s), batch 1, "
          f"prompt {args.prompt_len}, {args.new_tokens} new tokens, median of {args.repeats}:")
    print(f"  cached decode    {figures['pytorch_cached_decode_tokens_per_s']:9.0f} tokens/s "
          "(prefill excluded)")
    print(f"  cached decode    {figures['pytorch_decode_tokens_per_s_median_step']:9.0f} tokens/s "
          "(1 / the median step: what an unpreempted step reaches)")
    print(f"  cached end to end {figures['pytorch_cached_tokens_per_s']:8.0f} tokens/s")
    if uncached:
        print(f"  uncached         {figures['pytorch_uncached_tokens_per_s']:9.0f} tokens/s "
              f"({figures['pytorch_cached_vs_uncached']:.1f}x slower; same tokens: {same})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
