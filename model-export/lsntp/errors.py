"""Errors every command reports as `lsntp CMD: error: ...` (exit status 2). Imports nothing, so the
command line can name a problem before numpy, xarray or torch are loaded."""


class DataError(ValueError):
    """Input data that cannot be used; the message names the problem."""


class MissingPackage(DataError):
    """A Python package the command needs is not installed; the message says which Debian packages to install."""


# What reading GRIB/NetCDF and writing Avro frames needs (Debian packages; numpy comes with xarray).
READER_PACKAGES = "apt-get install python3-xarray python3-netcdf4 python3-cfgrib python3-avro"
