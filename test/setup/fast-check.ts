// Property tests run with one fixed seed so that a run is reproducible (CI sees exactly what a
// developer sees). `FC_SEED=<n>` replays a given seed; `FC_SEED=random` explores new ones.
import fc from 'fast-check';

const requested = process.env['FC_SEED'];
if (requested !== 'random') {
  fc.configureGlobal({ seed: requested ? Number(requested) : 20_261_124 });
}
