"""microlith.dsp: sensor feature extraction, in numpy (for training) and as generated C.

Blocks (configured frozen dataclasses; see blocks.py for the API and the error bounds):
    LogMelBlock, MfccBlock        audio: log-mel energies, MFCCs
    VibrationBlock                rms, peak, crest factor, kurtosis, log band powers
    EnvelopeBlock                 envelope spectrum (bearing fault lines)
    EcgRhythmBlock                R peaks (integer Pan-Tompkins) and RR-interval features
    MotionBlock                   IMU windows (3 or 6 axes): gravity removal, per-axis and magnitude
                                  statistics, zero crossings, jerk, band energies
Functions: spectral.py, vibration.py, ecg.py, motion.py hold the numpy definitions.
"""
from . import ecg, fixedmath, motion, spectral, vibration
from .blocks import (FIXED_MEL_BOUND, FIXED_MOTION_BOUND, FIXED_RR_BOUND, FIXED_VIB_BOUND, EcgRhythmBlock,
                     EnvelopeBlock, LogMelBlock, MfccBlock, MotionBlock, VibrationBlock, generate_c)

__all__ = ["FIXED_MEL_BOUND", "FIXED_MOTION_BOUND", "FIXED_RR_BOUND", "FIXED_VIB_BOUND", "EcgRhythmBlock",
           "EnvelopeBlock", "LogMelBlock", "MfccBlock", "MotionBlock", "VibrationBlock", "generate_c", "ecg",
           "fixedmath", "motion", "spectral", "vibration"]
