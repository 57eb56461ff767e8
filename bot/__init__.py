"""法治助手: retrieval over a township's reports and China's laws, answered in chat."""

import os

# One BLAS thread: our only BLAS work is one small matrix-vector product per question (~3 ms), while
# OpenBLAS's idle worker threads keep spinning after it and, on a 2-core machine, slowed the embedder that
# runs next from ~40 to ~110 ms per question. Set before numpy is first imported; an explicit setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
