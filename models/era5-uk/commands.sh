# The exact commands that made this model (version 2.0.0) and its report, from the project root.
# The model is the comparison queue's era5-lsntp run with the best validation MAE of its three seeds
# (seed 2; chosen on validation, never on test), trained by ./lsntp queue with one thread per run on
# 2 cores shared with a second training worker and Maven builds (training minutes: training-history.json
# and evaluation.md). Its baselines in evaluation.md are the queue's best-validation seeds too; the full
# comparison (every system, all seeds, intervals) is models/comparison/README.md. The runs are in
# model-export/runs, the default runs folder (--runs-dir).
LSNTP_THREADS=1 ./lsntp queue model-export/queues/comparison.yaml --runs-dir model-export/runs   # trains era5-lsntp-s0/1/2 and the rest
./lsntp evaluate model-export/runs/era5-lsntp-s2/best.pt model-export/runs/era5-convlstm-s0/best.pt model-export/runs/era5-predrnn-s0/best.pt model-export/runs/era5-convgru-s0/best.pt \
    --out models/era5-uk --adjacency-cell 51.5 -0.1 \
    --distance-runs model-export/runs/era5-lsntp-d0/best.pt model-export/runs/era5-lsntp-d300/best.pt
cp model-export/runs/era5-lsntp-s2/best.pt models/era5-uk/checkpoint.pt; cp model-export/runs/era5-lsntp-s2/history.json models/era5-uk/training-history.json
./lsntp export models/era5-uk/checkpoint.pt --out models/era5-uk/model.onnx --version 2.0.0
./lsntp benchmark models/era5-uk models/era5-uk/checkpoint.pt
./lsntp card models/era5-uk
