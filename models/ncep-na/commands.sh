# The exact commands that made this model (version 2.0.0) and its report, from the project root.
# The model is the comparison queue's ncep-lsntp run with the best validation MAE of its three seeds
# (seed 1; chosen on validation, never on test), trained by ./lsntp queue with one thread per run on
# 2 cores shared with a second training worker and Maven builds (training minutes: training-history.json
# and evaluation.md). Its baselines in evaluation.md are the queue's best-validation seeds too; the full
# comparison (every system, all seeds, intervals) is models/comparison/README.md. The runs are in
# model-export/runs, the default runs folder (--runs-dir).
LSNTP_THREADS=1 ./lsntp queue model-export/queues/comparison.yaml --runs-dir model-export/runs   # trains ncep-lsntp-s0/1/2 and the rest
./lsntp evaluate model-export/runs/ncep-lsntp-s1/best.pt model-export/runs/ncep-convlstm-s2/best.pt \
    --out models/ncep-na --adjacency-cell 42.5 272.5
cp model-export/runs/ncep-lsntp-s1/best.pt models/ncep-na/checkpoint.pt; cp model-export/runs/ncep-lsntp-s1/history.json models/ncep-na/training-history.json
./lsntp export models/ncep-na/checkpoint.pt --out models/ncep-na/model.onnx --version 2.0.0
./lsntp benchmark models/ncep-na models/ncep-na/checkpoint.pt
./lsntp card models/ncep-na
