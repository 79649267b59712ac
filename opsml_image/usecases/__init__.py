"""The use-case layer: one typed function for each action the app offers.

Pages read their state, call one function here and render what it returns; the CLI and notebooks can call
the same functions. Nothing here imports Streamlit. Below this layer sit the working store
(:mod:`opsml_image.store`), the registry, the formats and the rules.

* :mod:`.workspace`: open a dataset folder with its store and flusher; what the sidebar counts.
* :mod:`.annotate`: apply a canvas drawing, copy the previous boxes, relabel/delete a box, caption, classes.
* :mod:`.browse`: a gallery page, its tiles, the statistics of a filter.
* :mod:`.validate`, :mod:`.register`, :mod:`.create`, :mod:`.export`: validate and record the verdict,
  preview / apply / undo fixes, register from the working store, create a dataset from uploads, export a
  split.
"""
