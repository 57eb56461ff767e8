"""A second opinion on emergencies, learnt from labelled examples.

The rules in `knowledge/situations/emergencies.toml` are exact and reviewable, but they catch only the
wordings someone wrote down: on sets written blind they sent about 60 % of emergencies to 110 first, most
misses being a danger told in passing inside a money question. This classifier is a logistic regression
over character 1–3-grams (tf-idf), trained on the example phrasings in `knowledge/emergency/` and on the
situations' own phrasings; it learns the cues (刚, 这会儿, 叫不应, 流血, 绑, 农药 …) and generalises to new
wordings. It only adds emergencies the rules miss, and yields, like the rules, to `[danger_over]`.

Inference is plain Python over the stored weights (no scikit-learn at run time); training, which needs
scikit-learn, is `fazhi train-emergency`. The model records a digest of what it was trained on, so a test
can tell when the examples changed and the model was not retrained.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .files import write_atomically
from .text import text_ngrams

KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"
EXAMPLES_DIR = KNOWLEDGE / "emergency"
MODEL_PATH = KNOWLEDGE / "cache" / "emergency-classifier.json"
NGRAM_SIZES = (1, 2, 3)


def char_ngrams(text: str) -> list[str]:
    # Spaces and punctuation are not counted: unpunctuated messages would otherwise read as urgent.
    return text_ngrams(text, NGRAM_SIZES)


@dataclass(frozen=True)
class EmergencyClassifier:
    """`weights[g] = (idf, coefficient)` for every n-gram of the vocabulary; the features are l2-normalised
    sublinear tf × idf, as scikit-learn's TfidfVectorizer computes them in training."""

    weights: dict[str, tuple[float, float]]
    bias: float
    trained_on: str

    def probability(self, question: str) -> float:
        features = {g: (1.0 + math.log(n)) * self.weights[g][0]
                    for g, n in Counter(char_ngrams(question)).items() if g in self.weights}
        norm = math.sqrt(sum(v * v for v in features.values())) or 1.0
        z = self.bias + sum(v * self.weights[g][1] for g, v in features.items()) / norm
        return 1.0 / (1.0 + math.exp(-z))

    def is_trained_on(self, examples: list[tuple[str, bool]]) -> bool:
        return self.trained_on == examples_digest(examples)

    def save(self, path: Path) -> None:
        data = {"bias": self.bias, "trained_on": self.trained_on,
                "weights": {g: [round(idf, 5), round(w, 5)] for g, (idf, w) in sorted(self.weights.items())}}
        write_atomically(path, json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))

    @classmethod
    def load(cls, path: Path) -> EmergencyClassifier | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return cls({g: (idf, w) for g, (idf, w) in data["weights"].items()}, data["bias"], data["trained_on"])


def examples_digest(examples: list[tuple[str, bool]]) -> str:
    digest = hashlib.sha256()
    for text, label in examples:
        digest.update(f"{int(label)}\t{text}\n".encode())
    return digest.hexdigest()[:16]


def read_examples(directory: Path = EXAMPLES_DIR) -> list[tuple[str, bool]]:
    """Every `{"emergency": [...], "not_emergency": [...]}` file in the folder, in name order."""
    examples: list[tuple[str, bool]] = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        examples += [(t, True) for t in data["emergency"]] + [(t, False) for t in data["not_emergency"]]
    return examples


def training_examples(phrasings: list[tuple[str, bool]], factual: Callable[[str], str] = str,
                      directory: Path = EXAMPLES_DIR) -> list[tuple[str, bool]]:
    """The example files and the situations' own phrasings (an emergency situation's are emergencies),
    prepared the way questions are before they are classified: normalised, and only what is not
    supposed (`factual`); an example that was all supposition teaches nothing and is left out."""
    from .retrieval import normalize_question  # maintenance only: answers never build the training set

    prepared = [(factual(normalize_question(t)), label) for t, label in read_examples(directory) + phrasings]
    return [(t, label) for t, label in prepared if t.strip()]


def train(examples: list[tuple[str, bool]], regularization: float) -> EmergencyClassifier:
    """Fit on (normalised question, is an emergency); classes are weighted, emergencies being the rarer."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts = [t for t, _ in examples]
    labels = [int(label) for _, label in examples]
    vectorizer = TfidfVectorizer(analyzer=char_ngrams, min_df=2, sublinear_tf=True)
    model = LogisticRegression(C=regularization, max_iter=5000, class_weight="balanced")
    model.fit(vectorizer.fit_transform(texts), labels)
    weights = {g: (float(vectorizer.idf_[i]), float(model.coef_[0][i])) for g, i in vectorizer.vocabulary_.items()}
    return EmergencyClassifier(weights, float(model.intercept_[0]), examples_digest(examples))
