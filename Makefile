# The two commands of the README: `make demo` and `make test`. Everything they need is set up
# here, on a fresh Debian machine that has only python3.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests use: a real MQTT broker, pseudo-terminal tools, a real browser with a
# CJK font for the clerk pages, and systemd-analyze for the unit file.
TEST_DEBS := mosquitto socat chromium fonts-wqy-microhei systemd faketime

.PHONY: demo test venv test-debs clean

demo: $(VENV)/.installed
	$(VENV)/bin/sitegate demo

test: $(VENV)/.installed test-debs
	$(PY) -m pytest $(PYTEST_ARGS)

venv: $(VENV)/.installed

# Debian's python3 ships without ensurepip until python3-venv is installed.
$(VENV)/.installed: pyproject.toml setup.py
	@python3 -c 'import ensurepip' 2>/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv; }
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[face,test]'
	# face-recognition's metadata asks for a dlib source build; dlib-bin (from the face extra)
	# already provides the dlib module, so take face-recognition alone.
	$(PIP) install -q --no-deps 'face-recognition>=1.3'
	touch $@

test-debs:
	@missing=""; for p in $(TEST_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
