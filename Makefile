# Two commands matter: `make run` and `make test`. Everything else is what they depend on.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Shared libraries Qt needs for widgets offscreen (tests) and for a real window (run), plus fonts; and Qt WebEngine's
# (the embedded card payment page, started by the top-up tests: DESIGN.md section 9).
QT_TEST_PKGS := libegl1 libgl1 libglib2.0-0 libfontconfig1 libfreetype6 libx11-6 libxkbcommon0 libdbus-1-3 fonts-dejavu-core \
	libnss3 libnspr4 libasound2 libxcomposite1 libxdamage1 libxext6 libxfixes3 libxrandr2 libxtst6 libxkbfile1 \
	libgbm1 libxcb-dri3-0 libxcb1 libbrotli1
QT_WINDOW_PKGS := $(QT_TEST_PKGS) xvfb xauth libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 \
	libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0

.PHONY: run test lint typecheck pytest bench venv sysdeps-test sysdeps-run dist dist-check clean screenshots

run: sysdeps-run venv
	$(BIN)/rxdesk

test: sysdeps-test venv lint typecheck pytest

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "RxDesk needs Python 3.11 or newer"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Installs only what is missing; needs root (as on CI) and apt-get.
define apt_install
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
			echo "Installing system packages: $$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		else echo "Please install these system packages: $$missing"; fi; \
	fi
endef

sysdeps-test:
	$(call apt_install,$(QT_TEST_PKGS))

sysdeps-run:
	$(call apt_install,$(QT_WINDOW_PKGS))

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

pytest: venv
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -n 2 -q

bench: venv
	$(BIN)/python -m benchmarks.run_all

# The one-folder app, dist/RxDesk/ (build.spec). dist-check builds it afresh, then starts the frozen executable as a
# user would (offscreen Qt, fresh data folders) and checks the sign-in window, the demo catalogue, the command line,
# a printed document and the parse worker (tests/check_dist.py). Neither is part of `make test`: PyInstaller
# takes a minute.
dist: venv
	$(BIN)/python -m pip install --quiet -e '.[dist]'
	$(BIN)/pyinstaller --noconfirm build.spec

dist-check: sysdeps-test dist
	$(BIN)/python -m tests.check_dist --app dist/RxDesk/rxdesk

# Screenshots of the real window under Xvfb: a fresh demo installation (the catalogue built from the bundled demo
# release), each workspace driven as its users would; then the kiosk, started as `rxdesk --kiosk` is.
screenshots: sysdeps-run venv
	rm -rf /tmp/rxdesk-shots /tmp/rxdesk-kiosk-shots
	xvfb-run -a -s '-screen 0 1280x800x24' $(BIN)/python docs/screenshots/workspaces.py /tmp/rxdesk-shots docs/screenshots
	xvfb-run -a -s '-screen 0 1280x800x24' $(BIN)/python docs/screenshots/workspaces.py /tmp/rxdesk-kiosk-shots docs/screenshots kiosk

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
