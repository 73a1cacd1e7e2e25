package ai.lsntp.codec;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Temperatures on the wire: packed little-endian float32, row-major. */
public final class PackedFloats {
  private PackedFloats() {}

  /** Decodes the remaining bytes of {@code buf} (position untouched). */
  public static float[] decode(ByteBuffer buf) {
    ByteBuffer b = buf.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    if (b.remaining() % Float.BYTES != 0) {
      throw new IllegalArgumentException("packed float32 block of " + b.remaining() + " bytes is not a multiple of 4");
    }
    float[] out = new float[b.remaining() / Float.BYTES];
    b.asFloatBuffer().get(out);
    return out;
  }

  /** Decodes {@code count} floats from float index {@code from} of {@code buf} (position untouched): one lead or plane of a block. */
  public static float[] decode(ByteBuffer buf, int from, int count) {
    ByteBuffer b = buf.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    if ((long) (from + count) * Float.BYTES > b.remaining()) {
      throw new IllegalArgumentException("floats " + from + ".." + (from + count) + " lie outside a block of "
          + b.remaining() / Float.BYTES);
    }
    float[] out = new float[count];
    b.position(b.position() + from * Float.BYTES);
    b.slice().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
    return out;
  }

  public static float[] decode(byte[] bytes) {
    return decode(ByteBuffer.wrap(bytes));
  }

  public static ByteBuffer encode(float[] values) {
    return encode(values, 0, values.length);
  }

  public static ByteBuffer encode(float[] values, int offset, int length) {
    ByteBuffer b = ByteBuffer.allocate(length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(values, offset, length);
    return b;
  }
}
