"""scripts/seed_table.py: the multi-seed paired table of docs/train.md from train_all.sh's run folders."""

from __future__ import annotations

import numpy as np
from script_loader import load_script

from tests.sweep.test_compare import records, write_run


def test_the_table_bolds_what_survives_holm_over_seeds_and_nothing_else(tmp_path):
    for s in range(3):  # videorope 0.2 above vanilla in every seed at 32 frames, equal at 16
        for length, lift in ((16, 0.0), (32, 0.2)):
            rng = np.random.default_rng(s * 10 + length)
            q = np.full(40, 0.5)
            a, _ = records(rng, "videorope", q=q + lift)
            b, _ = records(rng, "vanilla", q=q)
            write_run(tmp_path / "runs" / f"L{length}" / f"s{s}", [r for r in a + b if r["length"] == length])
    table = load_script("seed_table").seed_table(tmp_path, [("videorope", "vanilla")])
    head, _, row = table.splitlines()
    assert head == "| pair (3 seeds) | v-niah 16 | v-niah 32 |"
    cells = row.rstrip(" |").split(" | ")[1:]
    assert not cells[0].startswith("**") and cells[1].startswith("**+") and cells[1].endswith("**")
    assert abs(float(cells[1][2:].split()[0]) - 0.2) < 0.05  # the planted lift, over 3 seeds × 40 needles
