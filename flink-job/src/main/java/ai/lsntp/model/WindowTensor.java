package ai.lsntp.model;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.List;

/** Input conversion: windows of alpha frames (each alpha*H*W floats, kelvin) to the {@code frames} tensor. */
public final class WindowTensor {
  private WindowTensor() {}

  /** The caller closes the returned tensor. */
  public static OnnxTensor encode(OrtEnvironment env, ModelSpec spec, List<float[]> windows) throws OrtException {
    int per = spec.alpha * spec.cells();
    FloatBuffer buf = ByteBuffer.allocateDirect(windows.size() * per * Float.BYTES)
        .order(ByteOrder.nativeOrder()).asFloatBuffer();
    for (float[] w : windows) {
      if (w.length != per) {
        throw new IllegalArgumentException("window of " + w.length + " values, model " + spec.name + " needs " + per);
      }
      buf.put(w);
    }
    buf.flip();
    return OnnxTensor.createTensor(env, buf, new long[] {windows.size(), spec.alpha, spec.height, spec.width});
  }
}
