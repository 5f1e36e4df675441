"""Rendering what analysis/ and claims/ computed: Markdown, CSV and LaTeX tables, plots, the HTML page, the index
of published runs, TensorBoard event files. Nothing here computes a figure of its own."""
