"""`niah --help`, `niah rope list` and `niah rope positions` start without the heavy libraries
(issue 13 item 5): each runs in a fresh interpreter and reports which modules it loaded."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from niah.cli import COMMANDS, main

HEAVY = ("torch", "transformers", "matplotlib", "cv2", "av", "PIL", "seaborn")
PROBE = """
import json, sys
from niah.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
finally:
    sys.stdout.flush()
    sys.stderr.write(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


@pytest.mark.parametrize("args", [["--help"], ["rope", "list"], ["rope", "list", "--json"],
                                  ["rope", "positions", "videorope", "--layout", "text:2,video:2x2x2,text:1"],
                                  ["rope", "positions", "circlerope:dff_rate=0", "--layout", "text:2,image:3x3"],
                                  ["rope", "allocation", "m-rope"], ["rope", "allocation", "mhrope", "--json"],
                                  ["rope", "--help"]])  # fmt: skip
def test_light_commands_import_no_heavy_library(args):
    res = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stderr.strip().splitlines()[-1]) == [], res.stderr


def test_every_listed_command_loads_with_its_one_liner():
    import click
    from click.testing import CliRunner

    ctx = click.Context(main, info_name="niah")
    for name, (_, short_help) in COMMANDS.items():
        command = main.get_command(ctx, name)
        assert command is not None and command.name == name
        assert command.get_short_help_str(limit=200) == short_help
    listing = CliRunner().invoke(main, ["--help"]).output
    assert all(name in listing and short_help in listing for name, (_, short_help) in COMMANDS.items())


def test_a_heavy_command_still_works_through_the_lazy_group(tmp_path):
    from click.testing import CliRunner

    res = CliRunner().invoke(main, ["generate", "--help"])
    assert res.exit_code == 0 and "--distractor-period" in res.output
    res = CliRunner().invoke(main, ["genrate"])
    assert res.exit_code == 2 and "unknown command 'genrate'" in res.output and "generate" in res.output
