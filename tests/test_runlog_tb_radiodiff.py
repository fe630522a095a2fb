"""RadioDiff's own TensorBoard events (train_vae.py lines 257-267: bare tag names, total_loss =
(G + D) / gradient_accumulate_every, Learning_Rate after the scheduler step; the fork's 0.0
placeholders for the discriminator terms) read as its text log and get its diagnosis."""

from __future__ import annotations

import numpy as np
import pandas as pd
from logfactory import with_disc_terms
from runformats import REAL_RUN_CONFIG, lr_of_schedule, write_formats
from summaries import summary_json

from radiovae import load_run

TB = {"train/rec_loss": "rec_loss", "train/kl_loss": "kl_loss", "train/d_weight": "d_weight",
      "train/disc_factor": "disc_factor", "train/g_loss": "g_loss"}


def write_radiodiff_tb(df: pd.DataFrame, out_dir, passes: int):
    """What RadioDiff's SummaryWriter holds at the rows' steps (one event per scalar)."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    out_dir.mkdir(parents=True)
    steps = df["step"].to_numpy()
    disc = {c: df[f"train/{c}"].to_numpy() if passes > 1 else np.zeros(len(df))   # the fork
            for c in ("disc_loss", "logits_real", "logits_fake")}
    d = disc["disc_loss"]
    scalars = {"Learning_Rate": lr_of_schedule(steps + 1),
               "total_loss": (df["train/total_loss"].to_numpy() + (passes - 1) * d) / passes,
               **{tag: df[col].to_numpy() for col, tag in TB.items()}, **disc}
    w = EventFileWriter(str(out_dir))
    for i, (step, t) in enumerate(zip(steps, df["time"].to_numpy(), strict=True)):
        for tag, values in scalars.items():
            w.add_event(Event(wall_time=float(t), step=int(step), summary=Summary(
                value=[Summary.Value(tag=tag, simple_value=float(values[i]))])))
    w.close()
    return out_dir


def diagnosis(run, without=()):
    s = summary_json(run)
    return s["verdict"], sorted((f["id"], f["metric"], f["severity"]) for f in s["findings"]
                                if f["severity"] != "info" and f["metric"] not in without)


def test_fork_events_give_the_text_logs_diagnosis(real, tmp_path):
    text = load_run(write_formats(real, tmp_path, formats=("radiodiff_log",))["radiodiff_log"])
    events = load_run(write_radiodiff_tb(real, tmp_path / "tb", passes=1))
    tab, ref = events.table, text.table
    assert "train/disc_loss" not in tab and "train/logits_real" not in tab     # placeholders
    assert tab["step"].tolist() == ref["step"].tolist()
    np.testing.assert_allclose(tab["train/total_loss"], ref["train/total_loss"], rtol=1e-6)
    np.testing.assert_allclose(tab["lr"], lr_of_schedule(real["step"].to_numpy() + 1), rtol=1e-6)
    # RadioDiff's events have no logvar / nll_loss: what needs them comes from the text only
    # (the frozen logvar; the nll that explains the negative total); the rest is the same
    absent = ("train/logvar", "train/nll_loss")
    assert not set(absent) & set(tab.columns)
    need_nll = ("negative_total_loss", "train/total_loss")
    verdict, found = diagnosis(events)
    ref_verdict, ref_found = diagnosis(text, without=absent)
    assert verdict == ref_verdict == "attention"
    assert [f for f in found if f[:2] != need_nll] == [f for f in ref_found if f[:2] != need_nll]
    assert ("discriminator_untrained", "train/g_loss", "warning") in found
    neg = next(f for f in summary_json(events)["findings"] if f["id"] == "negative_total_loss")
    assert "lack the terms" in neg["message"]


def test_official_events_total_is_generator_plus_discriminator_over_two(real, tmp_path):
    run = with_disc_terms(real)
    events = load_run(write_radiodiff_tb(run, tmp_path / "tb", passes=2))
    tab = events.table
    np.testing.assert_allclose(tab["train/total_loss"], run["train/total_loss"], rtol=1e-5,
                               atol=1e-4)
    np.testing.assert_allclose(tab["train/disc_loss"], run["train/disc_loss"], rtol=1e-6)
    assert REAL_RUN_CONFIG["trainer"]["gradient_accumulate_every"] == 1   # the real run: the fork
