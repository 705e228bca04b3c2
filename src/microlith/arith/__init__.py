"""Integer arithmetic at the bottom of the stack: TFLite's fixed-point requantization
(fixedpoint.py, twin of csrc/common/ml_common.h) and gemmlowp's Q-format transcendental
functions (gemmlowp.py, twin of csrc/common/ml_fixedpoint.h).

Every op's numpy reference, the quantizer and the DSP blocks build on these; nothing here
imports from the rest of microlith, so any layer may use them.
"""
