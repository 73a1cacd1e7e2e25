# The exact commands that made this model and its report, from the project root.
# Every NCEP run uses every third training window per epoch (train_stride 3) to fit 2 shared cores.
# The reference LS-NTP run (ReLU after the LSI) was started under an 8-epoch budget and resumed at
# epoch 6 under the 24-epoch budget the config holds now; the other runs ran straight through.
./lsntp train model-export/configs/ncep-lsntp.yaml --resume       # LS-NTP as the reference defines it (ReLU after the LSI)
./lsntp train model-export/configs/ncep-convlstm.yaml --resume    # baselines, same code path and budget
./lsntp train model-export/configs/ncep-convgru.yaml --resume
./lsntp train model-export/configs/ncep-predrnn.yaml --resume
./lsntp train model-export/configs/ncep-lsntp.yaml --set name=ncep-lsntp-linear --set model.lsi_relu=false \
    --run-dir model-export/runs/ncep-lsntp-linear --resume        # no ReLU after the LSI
./lsntp train model-export/configs/ncep-lsntp.yaml --set name=ncep-lsntp-linear-h24 --set model.lsi_relu=false \
    --set model.hidden=24 --run-dir model-export/runs/ncep-lsntp-linear-h24 --resume   # the shipped one: best validation MAE of the LS-NTP runs
./lsntp evaluate model-export/runs/ncep-lsntp-linear-h24/best.pt model-export/runs/ncep-lsntp-linear/best.pt \
    model-export/runs/ncep-lsntp/best.pt model-export/runs/ncep-convlstm/best.pt model-export/runs/ncep-convgru/best.pt \
    model-export/runs/ncep-predrnn/best.pt --out models/ncep-na --adjacency-cell 42.5 272.5
./lsntp export model-export/runs/ncep-lsntp-linear-h24/best.pt --out models/ncep-na/model.onnx --version 1.0.0
./lsntp benchmark models/ncep-na model-export/runs/ncep-lsntp-linear-h24/best.pt
./lsntp card models/ncep-na
cp model-export/runs/ncep-lsntp-linear-h24/best.pt models/ncep-na/checkpoint.pt; cp model-export/runs/ncep-lsntp-linear-h24/history.json models/ncep-na/training-history.json
