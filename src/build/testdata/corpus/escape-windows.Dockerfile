# escape=`
# check=skip=JSONArgsRecommended
FROM busybox
ENV GREETING="hello world" `
    OTHER=two
RUN echo one `
    two
# comment inside the file
COPY . C:\app\
CMD echo %GREETING%
