"""The ``fastdis`` command: ``fastdis demo``, ``fastdis list``, ``fastdis --version``."""
import argparse
import sys
import time

METRICS = ("mig", "rmig", "mig_sup", "jemmig", "modularity", "dcimig",
           "z_diff", "z_min_var", "z_max_var", "irs", "sap", "explicitness")
PAPERS = {
    "mig": "Chen et al. 2018, Isolating sources of disentanglement in VAEs (NeurIPS)",
    "rmig": "Do & Tran 2020, Theory and evaluation metrics for learning disentangled representations (ICLR)",
    "mig_sup": "Li et al. 2020, Progressive learning and disentanglement of hierarchical representations (ICLR)",
    "jemmig": "Do & Tran 2020, Theory and evaluation metrics for learning disentangled representations (ICLR)",
    "modularity": "Ridgeway & Mozer 2018, Learning deep disentangled embeddings with the F-statistic loss (NeurIPS)",
    "dcimig": "Sepliarskaia et al. 2019, Evaluating disentangled representations (arXiv:1910.05587)",
    "z_diff": "Higgins et al. 2017, beta-VAE: learning basic visual concepts (ICLR)",
    "z_min_var": "Kim & Mnih 2018, Disentangling by factorising (ICML)",
    "z_max_var": "Kim et al. 2019, Relevance Factor VAE (arXiv:1902.01568)",
    "irs": "Suter et al. 2019, Robustly disentangled causal mechanisms (ICML)",
    "sap": "Kumar et al. 2018, Variational inference of disentangled latent concepts (ICLR)",
    "explicitness": "Ridgeway & Mozer 2018, Learning deep disentangled embeddings with the F-statistic loss (NeurIPS)",
}
# stochastic metrics get the demo's seed
STOCHASTIC = {"z_diff", "z_min_var", "z_max_var", "explicitness"}


def _demo(args):
    import fastdis
    from fastdis.datasets import make_dsprites_like

    t0 = time.perf_counter()
    factors, codes = make_dsprites_like(args.encoder, small=args.small, random_state=args.seed)
    t_data = time.perf_counter() - t0
    print(f"fastdis {fastdis.__version__}: demo on dSprites-like data, encoder={args.encoder!r}, "
          f"{factors.shape[0]:,} rows, {factors.shape[1]} factors, {codes.shape[1]} codes "
          f"(made in {t_data:.2f} s)")
    print(f"{'metric':12s} {'value':>8s} {'seconds':>8s}")
    for name in METRICS:
        t0 = time.perf_counter()
        extra = {"random_state": args.seed} if name in STOCHASTIC else {}
        value = getattr(fastdis, name)(factors, codes, n_threads=args.threads, **extra)
        print(f"{name:12s} {value:8.4f} {time.perf_counter() - t0:8.3f}")
    return 0


def _list(args):
    for name in METRICS:
        print(f"{name:12s} {PAPERS[name]}")
    return 0


def main(argv=None):
    from fastdis import __version__

    parser = argparse.ArgumentParser(prog="fastdis", description="Fast disentanglement metrics.")
    parser.add_argument("--version", action="version", version=f"fastdis {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run every metric on built-in dSprites-like data")
    demo.add_argument("--encoder", default="partial",
                      choices=("perfect", "partial", "entangled", "noise"))
    demo.add_argument("--small", action="store_true", help="11,520-row grid instead of 737,280")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--threads", type=int, default=None)
    demo.set_defaults(func=_demo)
    lst = sub.add_parser("list", help="list the metrics and their papers")
    lst.set_defaults(func=_list)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
