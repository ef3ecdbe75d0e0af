"""The result objects of :func:`fastdis.separability` and :func:`fastdis.interpretability`."""
from dataclasses import dataclass

import numpy as np

from .._validation import check_int

__all__ = ["SeparabilityResult", "InterpretabilityResult"]


@dataclass
class SeparabilityResult:
    """Separability and independence of the codes (Do & Tran 2020, section 3); values in the
    base asked for (nats by default).

    Attributes
    ----------
    informativeness : ndarray (n_codes,)
        I(x; z_i), the weights' source.
    weights : ndarray (n_codes,)
        :math:`\\rho_i = I(x; z_i) / \\sum_j I(x; z_j)` (negative estimates count as 0).
    sep : ndarray (n_codes,)
        :math:`\\mathrm{SEP}_i = I(z_i; z_{\\neq i}) = H(z_i) + H(z_{\\neq i}) - H(z)`.
    sepin : ndarray (n_codes,)
        :math:`\\mathrm{SEPIN}_i = I(x; z_i \\mid z_{\\neq i}) = I(x; z) - I(x; z_{\\neq i})`.
    indin : ndarray (n_codes,)
        :math:`\\mathrm{INDIN}_i = I(x; z_i) - I(z_i; z_{\\neq i})`.
    wsep, wsepin, windin : float
        :math:`\\sum_i \\rho_i` times SEP_i, SEPIN_i, INDIN_i. This field and the ones
        above and below that need H(z) are None with the quantised estimator.
    sep_mean : float
        Unweighted mean of SEP_i (the authors' ``estimate_SEP`` "SEP").
    total_correlation : float
        :math:`\\mathrm{TC} = \\sum_i H(z_i) - H(z)`, 0 for independent codes.
    mutual_info_x : float
        I(x; z) = H(z) - H(z | x).
    pairwise : ndarray (n_codes, n_codes) or None
        :math:`I(z_i; z_j) = H(z_i) + H(z_j) - H(z_i, z_j)`; the diagonal, infinite for a
        continuous code, is NaN. None when not asked for (``pairwise=False``).
    standard_error : dict
        Monte-Carlo standard errors of the estimated entropies.
    settings : dict
    """

    informativeness: np.ndarray
    weights: np.ndarray
    sep: np.ndarray
    sepin: np.ndarray
    indin: np.ndarray
    wsep: float
    wsepin: float
    windin: float
    sep_mean: float
    total_correlation: float
    mutual_info_x: float
    pairwise: np.ndarray
    standard_error: dict
    settings: dict

    def _at(self, values, k):
        k = check_int(k, "k", 1, len(values))
        order = np.argsort(-self.informativeness, kind="stable")
        return float(np.mean(values[order[:k]]))

    def sepin_at(self, k):
        """SEPIN@k: mean SEPIN_i of the k most informative codes (Do & Tran's ranking)."""
        return self._at(self.sepin, k)

    def indin_at(self, k):
        """INDIN@k: mean INDIN_i of the k most informative codes."""
        return self._at(self.indin, k)

    def to_dict(self):
        """Plain fields (arrays as arrays), for reports."""
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class InterpretabilityResult:
    """Interpretability of codes with respect to factors (Do & Tran 2020, section 4).

    Attributes
    ----------
    rmig, jemmig : float
        Means over the factors kept of ``rmig_per_factor`` and ``jemmig_per_factor``.
    rmig_per_factor : ndarray (n_factors,)
        :math:`(I(z^*; v_k) - I(z^{**}; v_k)) / H(v_k)`, z* and z** the two codes most
        informative about v_k; NaN for a constant factor (left out of the mean).
    jemmig_per_factor : ndarray (n_factors,)
        :math:`(H(z^*, v_k) - I(z^*; v_k) + I(z^{**}; v_k)) / (H(v_k) + \\log B)` with the
        quantised estimator (in [0, 1], **lower is better**); with the sampling estimator
        the numerator alone, in nats (a differential entropy: it can be negative).
    best_code, second_code : ndarray of int (n_factors,)
    mutual_info : ndarray (n_factors, n_codes)
        I(z_i; v_k).
    joint_entropy : ndarray (n_factors, n_codes)
        H(z_i, v_k).
    code_entropy : ndarray (n_codes,)
    factor_entropy : ndarray (n_factors,)
    estimator : str
    settings : dict
    """

    rmig: float
    jemmig: float
    rmig_per_factor: np.ndarray
    jemmig_per_factor: np.ndarray
    best_code: np.ndarray
    second_code: np.ndarray
    mutual_info: np.ndarray
    joint_entropy: np.ndarray
    code_entropy: np.ndarray
    factor_entropy: np.ndarray
    estimator: str
    settings: dict

    def to_dict(self):
        return {k: v for k, v in self.__dict__.items()}
