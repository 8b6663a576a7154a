"""byzsim: a NumPy simulator of Byzantine-robust distributed optimization with compression.

It reproduces the experiments of Rammal, Gruntkowska, Fedin, Gorbunov and Richtárik,
"Communication Compression for Byzantine Robust Learning: New Efficient Algorithms and
Improved Rates" (AISTATS 2024).
"""

__version__ = "0.1.0"
