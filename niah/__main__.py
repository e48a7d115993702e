"""`python -m niah ...` (and `torchrun --nproc-per-node N -m niah run ...`)."""

from niah.cli import main

main()
