/*
 * How the kernels of a generated folder are built. `microlith compile --optimize MODE` writes
 * this file into each folder it generates; this copy (mode speed: no macro defined) is what the
 * kernels see when they are compiled straight from microlith's source tree.
 *
 *   ML_OPTIMIZE_SIZE   one generic instance per kernel family: the shape-specialised variants,
 *                      which only save instructions, are left out (ML_SPECIALISE is 0), and with
 *                      GCC the kernels and the model compile for size (as with -Os) whatever
 *                      flags the build passes.
 *
 * Every macro here only removes code that a generic path computes identically, so a program
 * whose kernels were built with another folder's ml_config.h still computes the same bytes.
 */
#ifndef ML_CONFIG_H
#define ML_CONFIG_H

#endif /* ML_CONFIG_H */
