"""V-RULER's item files read as they are: depth moves their images, ambiguous items are named."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from niah.cli import main
from niah.data.dataset import Dataset, cell_sequence
from niah.data.images import write_png

# The shapes of Wiselnn570/VideoRoPE@7712ca3 videorope_plus/v_ruler/data/*.json (texts shortened; the
# images are not in that repository: coloured squares stand in for them here).
INSTRUCTION = "Answer with the option's letter from the given choices directly."
ORDERING = [
    {"path": ["balloons.png", "cakes.png"],
     "prompt": f"\nFind the frames about balloon, cake. What is the order of their appearance in the video?\n"
               f"A. balloon, cake\nB. cake, balloon\nC. only balloon\nD. I don't know\n{INSTRUCTION}",
     "answer": "A"},
    {"path": ["flowers.png", "shoes.png", "cakes.png", "balloons.png"],
     "prompt": f"\nFind the frames about balloon, cake, shoes, flowers. What is the order of their appearance in the "
               f"video?\nA. balloon, cake, shoes, flowers\nB. cake, balloon, flowers, shoes\n"
               f"C. balloon, flowers, shoes, cake\nD. flowers, shoes, cake, balloon\n{INSTRUCTION}",
     "answer": "D"},
]  # fmt: skip
COUNTING = [
    {"path": [], "prompt": f"Find frames with ballons. How many times does the ballon appear?\n{INSTRUCTION}"
                           f"\nA. 2\nB. 3\nC. 0\nD. 1\n{INSTRUCTION}", "answer": "C"},
    {"path": ["balloons.png", "balloons.png"],
     "prompt": f"Find frames with ballons. How many?\n{INSTRUCTION}\nA. 4\nB. 2\nC. 3\nD. 6\n{INSTRUCTION}",
     "answer": "B"},
]  # fmt: skip
MULTI_KEY = [
    {"path": "['balloons.png', 'cakes.png', 'shoes.png']",
     "prompt": "Find the frames with the balloon. What actions does he take?\nA.jumping, cleaning, singing \nB. x\n"
               f"C. y\nD. z\n{INSTRUCTION}\nA. chatting\nB. cleaning\nC. jumping\n{INSTRUCTION}", "answer": "C"},
    {"path": "['flowers.png', 'shoes.png', 'cakes.png']",
     "prompt": f"Find the frames with Mario. What actions does he take?\n{INSTRUCTION}\nA. a, b, c\nB. d, e, f\n"
               f"C. g, h, i\nD. j, k, l\n{INSTRUCTION}", "answer": "A"},
]  # fmt: skip
COLOURS = {"balloons": (255, 0, 0), "cakes": (0, 255, 0), "shoes": (0, 0, 255), "flowers": (255, 255, 0)}


@pytest.fixture
def folder(tmp_path):
    for name, colour in COLOURS.items():
        write_png(tmp_path / f"{name}.png", np.full((56, 112, 3), colour, np.uint8))
    for name, items in (("ordering", ORDERING), ("counting", COUNTING), ("multi_key_multi_value", MULTI_KEY)):
        (tmp_path / f"{name}.json").write_text(json.dumps(items))
    return tmp_path


def generate(folder, name, *extra):
    out = folder / f"data-{name}"
    res = CliRunner().invoke(main, ["generate", "--preset", "demo", "--needles", str(folder / f"{name}.json"),
                                    "--lengths", "16,32", "--depths", "0,50,100", "--out", str(out), "-q", *extra])
    return res, out


def test_ordering_items_become_cells_whose_depth_moves_their_images_in_order(folder):
    res, out = generate(folder, "ordering")
    assert res.exit_code == 0, res.output
    assert "whatever the depth" in res.output  # the warning names V-RULER's depth-independence
    ds = Dataset(out)
    assert list(ds.task_cells) == ["ordering"] and ds.options["tasks"] == ["ordering"] and not ds.cells
    cells = ds.task_cells["ordering"]
    assert len(cells) == 2 * 3 * 2
    for cell in cells:
        colours = [tuple(ds.image(ref)[0, 0]) for ref in cell_sequence(cell) if ref.kind == "needle"]
        item = ORDERING[int(cell.needle[2:])]
        assert colours == [COLOURS[p[:-4]] for p in item["path"]]  # the images, in the file's order
        assert cell.asked.answer == "ABCD".index(item["answer"]) and len(cell.asked.options) == 4
    for length in (16, 32):
        firsts = [min(i.slot for i in c.insertions) for c in cells if c.length == length and c.needle == "vr001"]
        assert len(set(firsts)) == 3  # every depth row is another input (V-RULER's are one)


def test_counting_keeps_repeats_and_the_empty_item(folder):
    res, out = generate(folder, "counting")
    assert res.exit_code == 0, res.output
    cells = Dataset(out).task_cells["counting"]
    assert {len(c.insertions) for c in cells if c.needle == "vr000"} == {0}
    assert {len(c.insertions) for c in cells if c.needle == "vr001"} == {2}
    assert {c.asked.options[c.asked.answer] for c in cells if c.needle == "vr000"} == {"0"}


def test_an_item_listing_its_options_twice_is_skipped_and_named(folder):
    res, out = generate(folder, "multi_key_multi_value")
    assert res.exit_code == 0, res.output
    assert "skipped item(s) 1" in res.output and "lists its options twice" in res.output
    ds = Dataset(out)
    assert {c.needle for c in ds.task_cells["multi-key"]} == {"vr000"}  # the second item, now the first
    assert ds.task_cells["multi-key"][0].asked.options[0] == "a, b, c"


def test_a_file_whose_task_its_name_does_not_say_needs_tasks(folder):
    (folder / "mine.json").write_text(json.dumps(ORDERING))
    res, _ = generate(folder, "mine")
    assert res.exit_code == 2 and "--tasks ordering, counting or multi-key" in res.output
    res, out = generate(folder, "mine", "--tasks", "ordering")
    assert res.exit_code == 0, res.output
    assert list(Dataset(out).task_cells) == ["ordering"]


def test_the_report_shows_a_cell_that_inserts_nothing(folder):
    """V-RULER's count-0 item inserts no frame: the report's drill-down still describes its cell."""
    from niah.plot.html import _thumbnails

    res, out = generate(folder, "counting")
    assert res.exit_code == 0, res.output
    ds = Dataset(out)
    empty = next(c for c in ds.task_cells["counting"] if not c.insertions)
    _, info = _thumbnails(ds, [{"cell": empty.id}])
    assert info[empty.id]["needles"] == [] and info[empty.id]["sequence"] == "." * empty.length


def test_tasks_other_than_the_files_one_are_refused(folder):
    """A retrieval task has no single needle in V-RULER's items: asking for it is an error, not ignored."""
    res, out = generate(folder, "ordering", "--tasks", "v-niah,ordering")
    assert res.exit_code == 2 and "all of one task" in res.output and "not v-niah,ordering" in res.output
    assert not out.exists()
