package ai.lsntp.model;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtException;
import java.nio.FloatBuffer;
import java.util.Arrays;

/** Output conversion: the {@code forecast} tensor (batch, beta, H, W) to one float[beta*H*W] per window. */
public final class ForecastTensor {
  private ForecastTensor() {}

  public static float[][] decode(OnnxValue value, ModelSpec spec, int batch) throws OrtException {
    if (!(value instanceof OnnxTensor)) {
      throw new OrtException("model " + spec.name + ": output 'forecast' is not a tensor");
    }
    OnnxTensor t = (OnnxTensor) value;
    long[] shape = t.getInfo().getShape();
    long[] want = {batch, spec.beta, spec.height, spec.width};
    if (!Arrays.equals(shape, want)) {
      throw new OrtException("model " + spec.name + ": output shape " + Arrays.toString(shape)
          + " but expected " + Arrays.toString(want));
    }
    FloatBuffer fb = t.getFloatBuffer();
    int per = spec.beta * spec.cells();
    float[][] out = new float[batch][per];
    for (int i = 0; i < batch; i++) {
      fb.get(out[i]);
    }
    return out;
  }
}
