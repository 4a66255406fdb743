"""Probe (session 13): what plain classifiers reach on the Caltech Face/Motorbike pixels the SSTDP configs see
(40x62 grayscale, the fixed split): an RBF SVM (C 10) and logistic regression, each 5-fold cross-validated on the
training half and scored on the test half. The argument picks the faces folder (``Faces`` or ``Faces_easy``).

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/caltech_pixel_classifiers.py Faces
"""
import json
import sys

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.svm import SVC

from neuroplast.data.vision import load_caltech_face_motorbike

if __name__ == "__main__":
    faces = sys.argv[1] if len(sys.argv) > 1 else "Faces"
    xtr, ytr = load_caltech_face_motorbike(split="train", size=(40, 62), faces_dir=faces)
    xte, yte = load_caltech_face_motorbike(split="test", size=(40, 62), faces_dir=faces)
    xtr, xte = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)
    for name, clf in (("rbf-svm", SVC(C=10, gamma="scale")), ("logistic", LogisticRegression(max_iter=2000))):
        cv = cross_val_score(clf, xtr, ytr, cv=StratifiedKFold(5, shuffle=True, random_state=0)).mean()
        test = clf.fit(xtr, ytr).score(xte, yte)
        print(json.dumps({"faces": faces, "classifier": name, "cv": round(float(cv), 4), "test": round(test, 4)}))
