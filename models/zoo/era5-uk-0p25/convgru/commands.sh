# from the project root: train the queue, compare, export this system's best-validation seed
./lsntp queue model-export/queues/comparison.yaml --runs-dir model-export/runs
./lsntp compare model-export/queues/comparison.yaml --runs-dir model-export/runs --out models/comparison
./lsntp export model-export/runs/era5-convgru-s0/best.pt --out models/zoo/era5-uk-0p25/convgru/model.onnx --version 1.0.0
