# from the project root: train the queue, compare, export this system's best-validation seed
./lsntp queue model-export/queues/comparison.yaml --runs-dir /work/runs
./lsntp compare model-export/queues/comparison.yaml --runs-dir /work/runs --out models/comparison
./lsntp export /work/runs/ncep-saconvlstm-s0/best.pt --out models/zoo/ncep-na-2p5/saconvlstm/model.onnx --version 1.0.0
