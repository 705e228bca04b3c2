"""microlith.dsp: sensor feature extraction, in numpy (for training) and as generated C.

Blocks (configured frozen dataclasses; see blocks.py for the API and the error bounds):
    LogMelBlock, MfccBlock        audio: log-mel energies, MFCCs
    VibrationBlock                rms, peak, crest factor, kurtosis, log band powers
    EnvelopeBlock                 envelope spectrum (bearing fault lines)
    EcgRhythmBlock                R peaks (integer Pan-Tompkins) and RR-interval features
Functions: spectral.py, vibration.py, ecg.py hold the numpy definitions.
"""
from . import ecg, fixedmath, spectral, vibration
from .blocks import (FIXED_MEL_BOUND, FIXED_RR_BOUND, FIXED_VIB_BOUND, EcgRhythmBlock, EnvelopeBlock, LogMelBlock,
                     MfccBlock, VibrationBlock, generate_c)

__all__ = ["FIXED_MEL_BOUND", "FIXED_RR_BOUND", "FIXED_VIB_BOUND", "EcgRhythmBlock", "EnvelopeBlock", "LogMelBlock",
           "MfccBlock", "VibrationBlock", "generate_c", "ecg", "fixedmath", "spectral", "vibration"]
