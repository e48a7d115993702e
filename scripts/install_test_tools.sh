#!/usr/bin/env bash
# System tools the tests use beyond Python: Debian's chromium and its driver, for the browser test
# of `niah report` (tests/plot/test_report.py). Installs them with apt-get when this machine can
# (root, or sudo without a password); otherwise says so, and that test skips with the reason.
# Never fails: everything else in the suite runs without a browser.
set -u
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "install_test_tools: no apt-get here; install chromium and chromedriver yourself, or the browser test skips" >&2
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else
  echo "install_test_tools: not root and no passwordless sudo; the browser test skips" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
{ $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium chromium-driver; } >/dev/null 2>&1 \
  || echo "install_test_tools: apt-get could not install chromium; the browser test skips" >&2
exit 0
