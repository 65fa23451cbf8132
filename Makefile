# Two commands for a fresh machine:  make book   and   make test
# Each creates .venv and installs cmrlib with its dependencies when needed.
PYTHON   ?= python3
VENV     := .venv
PY       := $(VENV)/bin/python
PROFILE  ?= cpu-final
FORCE    ?=
REEXECUTE ?=
STAMP    := $(VENV)/.installed

.PHONY: book test venv verify clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -c constraints.txt -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (cmr-book)"
	touch $(STAMP)

# Run every experiment notebook at $(PROFILE) into runs/$(PROFILE)/ (cached runs are reused; FORCE=1 retrains; a
# page whose inputs are committed and unchanged since it was executed is reused; REEXECUTE=1 executes every page),
# then build the HTML with jupyter-book 1.x into _build/html.
book: $(STAMP)
	$(PY) -m cmrlib book --profile $(PROFILE) $(if $(FORCE),--force,) $(if $(REEXECUTE),--reexecute,)

test: $(STAMP)
	CMR_PROFILE=smoke $(PY) -m pytest -q

# Re-make the runs whose weights are committed (the Figure 5 page's and the README's predict example) and compare
# them with their committed files, epoch by epoch (results in runs/verify/).
VERIFY_RUNS ?= runs/cpu-final/synth-something/cmr-default-T8-s0-19357105
verify: $(STAMP)
	$(PY) -m cmrlib verify $(VERIFY_RUNS)

clean:
	rm -rf _build data/smoke
