package ai.lsntp.model;

import java.io.Serializable;

/**
 * Where ONNX Runtime runs the models: the CPU, or the CUDA provider (falling back to the CPU where
 * it cannot be used). On CUDA, TensorFloat-32 matrix products are an explicit choice, off unless
 * asked for: they carry 10 mantissa bits, enough to move a forecast by more than the 1e-3 K the
 * parity check allows, and ONNX Runtime's CUDA provider turns them on by default on Ampere and newer.
 */
public record Provider(boolean cuda, boolean tf32) implements Serializable {
  public static final Provider CPU = new Provider(false, false);

  public Provider {
    if (tf32 && !cuda) {
      throw new IllegalArgumentException("TF32 is a CUDA setting; the CPU provider has none");
    }
  }

  /** The CPU, or CUDA with TF32 off. */
  public static Provider of(boolean cuda) {
    return cuda ? new Provider(true, false) : CPU;
  }

  @Override
  public String toString() {
    return cuda ? (tf32 ? "cuda (TF32 on)" : "cuda") : "cpu";
  }
}
