"""Perplexity of a transformers causal LM on fixed token windows, the way
docs/EVALUATION.md defines it: each window's mean next-token loss, then
exp of the mean over windows. One implementation for the reference tests
and the llm-compressor bench. torch is imported when called, so importing
this module costs nothing."""

import math


def window_losses(model, windows, threads):
    """Each window's mean token loss; WINDOWS is [n, L] token ids."""
    import torch
    torch.set_num_threads(threads)
    losses = []
    with torch.no_grad():
        for window in windows:
            window = window.unsqueeze(0)
            losses.append(float(model(window, labels=window).loss))
    return losses


def perplexity(model, windows, threads):
    """exp(mean over windows of the mean token loss)."""
    losses = window_losses(model, windows, threads)
    return math.exp(sum(losses) / len(losses))
