"""rnncourse: the support package of the course "Recurrent Neural Networks, from first
principles to practice".

One module per chapter topic, so that the code a chapter builds is found in one file:

- :mod:`rnncourse.sequences` — ch. 1: sequence examples, unrolled diagrams, I/O patterns
- :mod:`rnncourse.forward` — ch. 2: forward pass in NumPy and PyTorch, equal to ``torch.nn.RNN``
- :mod:`rnncourse.bptt` — ch. 3: backpropagation through time in NumPy, truncated BPTT
- :mod:`rnncourse.gradcheck` — ch. 3: gradient checks against centred finite differences
- :mod:`rnncourse.text` — ch. 3 and 8: character-level corpora (``pydoc_data``, the standard
  library's sources), 90/5/5 splits, vocabulary, streams for truncated BPTT, a character
  language model, sampling, bits per character
- :mod:`rnncourse.vanishing` — ch. 4: Jacobian products, gradient norm vs lag, clipping, init
- :mod:`rnncourse.tasks` — ch. 4–6: synthetic long-dependency tasks (adding problem, copy memory)
- :mod:`rnncourse.lstm` — ch. 5: LSTM cell and layers from the equations, equal to ``torch.nn.LSTM``
- :mod:`rnncourse.gru` — ch. 6: GRU cell and layers (PyTorch's and Cho et al.'s variants)
- :mod:`rnncourse.deep` — ch. 7: layer-normalised LSTM, stacked and bidirectional helpers
- :mod:`rnncourse.language` — ch. 8: add-k and Kneser–Ney n-grams, a character LSTM trained by
  truncated BPTT, interpolation, dynamic evaluation, the repetition statistic, sampling, BPE
- :mod:`rnncourse.classification` — ch. 9: surnames by language (``faker``), padding, packing
  and masking, a sequence classifier, per-class metrics, order-sensitive reviews, bag of words
- :mod:`rnncourse.seq2seq` — ch. 10: number-word pairs (``num2words``), an encoder–decoder with
  and without additive attention, greedy and beam search, exact match, chrF and BLEU
- :mod:`rnncourse.timeseries` — ch. 11: the co2 and sunspot series (``statsmodels``), windows,
  chronological splits, naive/seasonal/SARIMA baselines, GRU forecasters, MAE/RMSE/MASE
- :mod:`rnncourse.pitfalls` — ch. 12: the experiments behind each pitfall (clipping threshold,
  locked dropout, learning-rate range test, normalised cells, leakage, random search)
- :mod:`rnncourse.beyond` — ch. 13: linear recurrences and parallel scans, minGRU and minLSTM,
  self-attention written out, a small Transformer with a key/value cache

and the foundation every chapter uses:

- :mod:`rnncourse.recurrent` — the scaffolding of every recurrent layer (``RNNBase``,
  ``RNNCellBase``: parameters, the loops over time, layers and directions, layouts, checks,
  ``from_torch``, gate recording), parameter counts, comparison with a PyTorch module, and an
  encoder with a read-out (``SequenceModel``)
- :mod:`rnncourse.runtime` — notebook set-up, device choice, seeding, progress bars, source display
- :mod:`rnncourse.plotting` — the course's colour-blind-safe plotting style
- :mod:`rnncourse.training` — a plain training loop with clipping and early stopping, timing
- :mod:`rnncourse.selfcheck` — the mechanism behind exercise self-checks
- :mod:`rnncourse.validation` — input checks with messages that name the expected shape, also
  for calls of ``torch.nn.RNN/GRU/LSTM`` (``check_torch_rnn_call``)
- :mod:`rnncourse.exercises` — one module of self-checks per chapter (``ch01``, ``ch02``, ...)
- :mod:`rnncourse.download` — optional checksummed, cached downloads for online learners
- :mod:`rnncourse.instructor` — the ``rnncourse`` command: exercise catalogue, student
  versions, grading
"""

__version__ = "0.1.0"
