"""rnncourse: the support package of the course "Recurrent Neural Networks, from first
principles to practice".

One module per chapter topic, so that the code a chapter builds is found in one file:

- :mod:`rnncourse.sequences` — ch. 1: sequence examples, unrolled diagrams, I/O patterns
- :mod:`rnncourse.forward` — ch. 2: forward pass in NumPy and PyTorch, equal to ``torch.nn.RNN``
- :mod:`rnncourse.bptt` — ch. 3: backpropagation through time in NumPy, truncated BPTT
- :mod:`rnncourse.gradcheck` — ch. 3: gradient checks against centred finite differences
- :mod:`rnncourse.text` — ch. 3 and 8: character-level corpora (``pydoc_data``), vocabulary,
  streams for truncated BPTT, a character language model, sampling, bits per character
- :mod:`rnncourse.vanishing` — ch. 4: Jacobian products, gradient norm vs lag, clipping, init
- :mod:`rnncourse.tasks` — ch. 4–6: synthetic long-dependency tasks (adding problem, copy memory)
- :mod:`rnncourse.lstm` — ch. 5: LSTM cell and layers from the equations, equal to ``torch.nn.LSTM``
- :mod:`rnncourse.gru` — ch. 6: GRU cell and layers (PyTorch's and Cho et al.'s variants)
- :mod:`rnncourse.deep` — ch. 7: layer-normalised LSTM, stacked and bidirectional helpers

and the foundation every chapter uses:

- :mod:`rnncourse.recurrent` — the scaffolding of every recurrent layer (``RNNBase``,
  ``RNNCellBase``: parameters, the loops over time, layers and directions, layouts, checks,
  ``from_torch``, gate recording), parameter counts, comparison with a PyTorch module, and an
  encoder with a read-out (``SequenceModel``)
- :mod:`rnncourse.runtime` — notebook set-up, device choice, seeding, progress bars, source display
- :mod:`rnncourse.plotting` — the course's colour-blind-safe plotting style
- :mod:`rnncourse.training` — a plain training loop with clipping and early stopping, timing
- :mod:`rnncourse.selfcheck` — the mechanism behind exercise self-checks
- :mod:`rnncourse.validation` — input checks with messages that name the expected shape
- :mod:`rnncourse.exercises` — one module of self-checks per chapter (``ch01``, ``ch02``, ...)
- :mod:`rnncourse.download` — optional checksummed, cached downloads for online learners
- :mod:`rnncourse.instructor` — the ``rnncourse`` command: exercise catalogue, student
  versions, grading
"""

__version__ = "0.1.0"
