"""Handing niah datasets to other tools: `niah export` (Hub-ready Parquet, a dataset card and an
lmms-eval task folder). Reading their results back is niah.sweep.lmms (`niah import lmms-eval`)."""
