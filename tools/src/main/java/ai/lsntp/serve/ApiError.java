package ai.lsntp.serve;

/** A request the API answers with an error: the HTTP status, the parameter at fault (or null) and a sentence. */
final class ApiError extends RuntimeException {
  private static final long serialVersionUID = 1L;
  final int status;
  final String parameter;

  ApiError(int status, String parameter, String reason) {
    super(reason, null, false, false); // an answer, not a failure: no stack trace is ever taken
    this.status = status;
    this.parameter = parameter;
  }

  static ApiError badParameter(String parameter, String reason) {
    return new ApiError(400, parameter, "Parameter '" + parameter + "' " + reason);
  }
}
