"""The training loop's view of its steps: results read on the host only every `log_every`
steps (a dygraph engine returns device tensors: reading one is a synchronisation), the
throughput of each window (images/s, reader cost, batch cost) to the console and
VisualDL, and the epoch's means."""
from __future__ import annotations

import math


class StepMeter:
    def __init__(self, log_every: int, images_per_step: int, writer=None, lr_fn=None, bar=None):
        self.log_every, self.images_per_step = log_every, images_per_step
        self.writer, self.lr_fn, self.bar = writer, lr_fn, bar
        self.pending, self.sums, self.n = [], {}, 0
        self.reader_s = self.batch_s = 0.0
        self.window = 0

    def add(self, step: int, parts: dict, plan, reader_s: float, batch_s: float):
        self.pending.append((step, parts, plan.rank_weight))
        self.reader_s, self.batch_s, self.window = self.reader_s + reader_s, self.batch_s + batch_s, self.window + 1
        if step % self.log_every == 0:
            self.flush()

    def flush(self):
        """Read the pending results (in step order, so the epoch's sums are those of a
        step-by-step reading), check them, log the window."""
        last = None
        for step, parts, rank_weight in self.pending:
            values = {k: float(v) for k, v in parts.items()}
            if not math.isfinite(values["loss"]):
                raise FloatingPointError(f"loss became {values['loss']} at step {step - 1}")
            for k, v in values.items():
                self.sums[k] = self.sums.get(k, 0.0) + v
            self.n += 1
            if self.writer and step % self.log_every == 0:
                for k, v in values.items():
                    self.writer.add_scalar(f"train/{k}", v, step)
                self.writer.add_scalar("train/lr", self.lr_fn(step - 1), step)
                self.writer.add_scalar("train/rank_weight", rank_weight, step)
            last = (step, values)
        self.pending = []
        if last and self.window:
            speed = self.images_per_step * self.window / max(self.batch_s, 1e-9)
            if self.writer:
                self.writer.add_scalar("train/images_per_s", speed, last[0])
                self.writer.add_scalar("train/reader_s", self.reader_s / self.window, last[0])
                self.writer.add_scalar("train/batch_s", self.batch_s / self.window, last[0])
            if self.bar is not None:
                self.bar.set_postfix(loss=f"{last[1]['loss']:.3f}", img_s=f"{speed:.0f}",
                                     reader=f"{100 * self.reader_s / max(self.batch_s, 1e-9):.0f}%", refresh=False)
            self.reader_s = self.batch_s = 0.0
            self.window = 0

    def epoch_means(self) -> dict:
        self.flush()
        means = {k: v / max(self.n, 1) for k, v in self.sums.items()}
        self.sums, self.n = {}, 0
        return means
